// Every message, enum and service of the Link API, generated from proto/ by `buf generate`. The
// package build (build.js) copies the generated files next to this one and rewrites these paths.
export * from '../../../gen/google/rpc/error_details_pb.js';
export * from '../../../gen/link/v1/link_service_pb.js';
export * from '../../../gen/link/v1/run_pb.js';
export * from '../../../gen/link/v1/sandbox_pb.js';
export * from '../../../gen/link/v1/sandbox_service_pb.js';
export * from '../../../gen/link/v1/thread_service_pb.js';
export * from '../../../gen/link/v1/types_pb.js';
export * from '../../../gen/link/v1/user_service_pb.js';
