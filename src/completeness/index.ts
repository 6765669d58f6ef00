export { completenessFigureSchema, completenessDifference, type CompletenessFigure } from './figure.js';
