import { runService } from '@phos/shared';
import { start } from './server';

runService('patients', (config) => start(config));
