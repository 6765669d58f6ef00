import { enableFaultInjection } from '../../simulators/faults.js';

// Every simulator a test creates can inject faults (the product's own simulators, in the demo, cannot).
enableFaultInjection();
