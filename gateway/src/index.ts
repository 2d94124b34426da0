import { runService } from '@phos/shared';
import { start } from './server';

runService('gateway', (config) => start(config));
