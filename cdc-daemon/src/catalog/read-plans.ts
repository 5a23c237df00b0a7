import type { Connection } from 'mysql2/promise';
import type { CdcConfig } from '../config';
import { parentsFirst } from '../apply/mirror-ddl';
import { type TablePlan, planTable } from './plan-table';
import { readCatalog } from './read-catalog';
import { type SelectAccess, readSelectAccess } from './select-access';
import type { MappingOptions } from './type-mapping';

/** How columns map to PostgreSQL: the cycle's plans and the load's reader threads agree on it. */
export function mappingOptions(config: CdcConfig): MappingOptions {
  return { tinyint1AsBoolean: config.tinyint1AsBoolean };
}

/** The mirrored tables' plans, parents first, and what the account may read of them. */
export interface Catalog {
  plans: TablePlan[];
  access: SelectAccess;
}

export async function readPlans(mysql: Connection, config: CdcConfig): Promise<Catalog> {
  const schemas = await readCatalog(mysql, {
    tables: config.tables,
    excludeTables: config.excludeTables,
    excludeColumns: config.excludeColumns,
  });
  const plans = parentsFirst(schemas.map((s) => planTable(s, mappingOptions(config))));
  return { plans, access: await readSelectAccess(mysql) };
}
