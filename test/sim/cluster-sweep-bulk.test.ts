import { sweep } from './cluster-sweep.js';

sweep('bulk');
