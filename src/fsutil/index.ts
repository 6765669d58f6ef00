export { writeFileAtomic, fsyncDir } from './write-file-atomic.js';
export { processAlive } from './process-alive.js';
