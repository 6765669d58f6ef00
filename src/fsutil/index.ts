export { writeFileAtomic, fsyncDir } from './write-file-atomic.js';
