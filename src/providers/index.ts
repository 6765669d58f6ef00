export type {
  Provider,
  ProviderPage,
  ProviderRecord,
  ProviderContext,
  SourceSpec,
  CheckpointSummary,
} from './provider.js';
export { providers, getProvider, providerIds } from './registry.js';
