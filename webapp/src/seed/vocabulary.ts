/** Disciplines with real topics, so catalogue searches and the attendance report find things. */
export const DISCIPLINES = [
  { name: 'Computer Science', topics: ['algorithms', 'data structures', 'relational databases', 'transactions', 'query optimization', 'operating systems', 'concurrency', 'compilers', 'computer networks', 'distributed systems', 'machine learning', 'cryptography', 'software testing', 'computer graphics'] },
  { name: 'Mathematics', topics: ['linear algebra', 'calculus', 'probability', 'statistics', 'differential equations', 'graph theory', 'number theory', 'topology', 'numerical methods', 'convex optimization', 'combinatorics', 'real analysis'] },
  { name: 'Physics', topics: ['classical mechanics', 'thermodynamics', 'electromagnetism', 'quantum mechanics', 'optics', 'special relativity', 'nuclear physics', 'solid state physics', 'fluid dynamics', 'astrophysics'] },
  { name: 'Chemistry', topics: ['organic chemistry', 'chemical kinetics', 'spectroscopy', 'electrochemistry', 'polymers', 'catalysis', 'analytical chemistry', 'biochemistry', 'crystallography'] },
  { name: 'Biology', topics: ['genetics', 'cell biology', 'ecology', 'evolution', 'microbiology', 'immunology', 'neuroscience', 'molecular biology', 'bioinformatics', 'plant physiology'] },
  { name: 'Economics', topics: ['microeconomics', 'macroeconomics', 'econometrics', 'game theory', 'public finance', 'labour markets', 'international trade', 'behavioural economics', 'monetary policy'] },
  { name: 'History', topics: ['ancient civilisations', 'medieval europe', 'the industrial revolution', 'colonial empires', 'the cold war', 'economic history', 'historiography', 'archival research'] },
  { name: 'Linguistics', topics: ['phonetics', 'morphology', 'syntax', 'semantics', 'pragmatics', 'sociolinguistics', 'language acquisition', 'corpus linguistics', 'historical linguistics'] },
  { name: 'Law', topics: ['constitutional law', 'contract law', 'criminal law', 'international law', 'data protection', 'intellectual property', 'administrative law', 'human rights'] },
  { name: 'Engineering', topics: ['control systems', 'signal processing', 'materials science', 'structural analysis', 'robotics', 'power electronics', 'embedded systems', 'heat transfer'] },
] as const;

export const COURSE_PATTERNS = ['Introduction to {t}', 'Foundations of {t}', 'Advanced {t}', 'Applied {t}', '{t} and {u}', 'Topics in {t}', '{t} Laboratory', 'Seminar on {t}'] as const;

export const MATERIAL_SENTENCES = [
  'This lecture introduces {t} and shows where it meets {u}.',
  'We work through worked examples of {t}, then compare them with {u}.',
  'Reading: the chapter on {t}; optional background on {u}.',
  'Key ideas: the definitions of {t}, common pitfalls, and how {u} builds on them.',
  'The lab session applies {t} to a small case study.',
  'Exercises on {t} are due before the next lecture.',
  'We review the history of {t} and its open problems today.',
  'Slides and notes cover {t} with references to {u}.',
] as const;

export const CITIES = ['Northbridge', 'Eastwick', 'Westford', 'Southport', 'Riverton', 'Lakeside', 'Highmoor', 'Kingsbury'] as const;
export const BUILDINGS = ['Main', 'Science', 'Library', 'North', 'South', 'Tech', 'Arts', 'Annex'] as const;
