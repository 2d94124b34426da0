import { runService } from '@phos/shared';
import { start } from './server';

runService('identity', (config) => start(config));
