import { join } from 'node:path';
import { projectRoot } from '../core/paths.js';

// run.json names its schema by an id, not a path or a URL: the same on every machine and
// checkout, versioned with the document, and nothing a reader would try to fetch. The file that
// carries it as its $id ships beside this one (in the sources, not in dist/).
export const runSchemaId = 'urn:faultline:run:4';

/** The JSON Schema (draft 2020-12) of the run.json this faultline writes. */
export const runSchemaFile = join(projectRoot, 'runner', 'model', 'run.schema.json');
