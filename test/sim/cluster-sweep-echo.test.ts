import { sweep } from './cluster-sweep.js';

sweep('echo');
