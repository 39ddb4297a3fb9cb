import { MemoryBackend, MemoryRegistry } from '../../control-plane/registry/memory.js';
import { registryConformance } from './conformance.js';

const backend = new MemoryBackend();
registryConformance('memory', async (replicaId, leaseTtlMs) => new MemoryRegistry(replicaId, backend, leaseTtlMs));
