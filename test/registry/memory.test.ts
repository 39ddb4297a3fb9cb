import { MemoryRegistry } from '../../control-plane/registry/memory.js';
import { registryConformance } from './conformance.js';

registryConformance('memory', async (replicaId) => new MemoryRegistry(replicaId));
