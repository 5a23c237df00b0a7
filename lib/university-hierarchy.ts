/**
 * The university hierarchy as the MongoDB sink nests it in each `universities` document and the
 * hierarchy report reads it back: institutes -> departments -> specialties -> groups, every level
 * with its student count, children ordered by id. One definition for the writer (the CDC daemon's
 * mongo-model.ts) and the reader (the portal's hierarchy-report.ts).
 */

export interface GroupNode {
  id: number;
  name: string;
  year_of_study: number | null;
  students: number;
}

export interface SpecialtyNode {
  id: number;
  code: string;
  name: string;
  students: number;
  groups: GroupNode[];
}

export interface DepartmentNode {
  id: number;
  name: string;
  students: number;
  specialties: SpecialtyNode[];
}

export interface InstituteNode {
  id: number;
  name: string;
  students: number;
  departments: DepartmentNode[];
}
