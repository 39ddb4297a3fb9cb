/**
 * gRPC server reflection for grpcurl, `buf curl` and SDK generators, fed with protobuf-es file
 * descriptors (descriptors from @grpc/proto-loader break those clients).
 */
import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { toBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';

export function addReflection(server: grpc.Server, files: DescFile[]): void {
  const all = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (all.has(file.name)) return;
    all.set(file.name, file);
    file.dependencies.forEach(visit);
  };
  files.forEach(visit);
  const fileDescriptorProtos = [...all.values()].map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  // @grpc/reflection reads `fileDescriptorProtos` of each package-definition entry.
  const packageDefinition = { all: { fileDescriptorProtos } } as never;
  new ReflectionService(packageDefinition).addToServer(server);
}
