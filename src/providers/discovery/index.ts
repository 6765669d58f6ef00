export {
  discoveryStateSchema,
  initialDiscoveryState,
  describeDiscovery,
  type DiscoveryState,
  type ActiveStream,
} from './discovery-state.js';
export {
  readDiscovered,
  type DiscoverySet,
  type DiscoveredStream,
  type DiscoveryOptions,
  type ListingPage,
  type ListingCursor,
} from './read-discovered.js';
export {
  instantSchema,
  instantMs,
  discoveryTimingShape,
  discoveryOptions,
  concurrencySchema,
} from './discover-params.js';
export { readSourceStreams, type SourceStreams, type StreamListing } from './read-source-streams.js';
