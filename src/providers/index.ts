export type {
  Provider,
  ProviderPage,
  ProviderRecord,
  ProviderContext,
  ProviderServices,
  SourceSpec,
  CheckpointSummary,
  CompletenessFigure,
} from './provider.js';
export type { Cloud } from './cloud.js';
export { providerContext, readPages, type ReadPage } from './kit/index.js';
export { providers, getProvider, providerIds } from './registry.js';
