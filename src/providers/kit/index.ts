export { providerContext, clientOptions } from './context.js';
export { readPages, FOLD_LIMIT, type ReadPage } from './read-pages.js';
export { readStreams, concernsOneStream, type StreamSet, type StreamPage } from './streams.js';
export { chunkPages } from './chunks.js';
export { verbatim, type Verbatim } from './verbatim.js';
