import { readFileSync } from 'node:fs';
import path from 'node:path';
import ejs from 'ejs';
import escapeHtml from 'escape-html';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/**
 * Names that cannot be declared as variables, JavaScript's and those of EJS's compiled function
 * (a local so named is read as `locals.name`).
 */
const RESERVED = new Set(
  'locals escapeFn include rethrow __output __append __locals __line __lines __filename arguments await break case catch class const continue debugger default delete do else enum eval export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield'.split(
    ' ',
  ),
);

type Done = (err: Error | null, html?: string) => void;

/** `<%= %>`: nothing for null and undefined, as EJS's own; a value with nothing to escape is returned as it is. */
function escape(value: unknown): string {
  return value == null ? '' : escapeHtml(value as string);
}

// Shared by every engine, as EJS's template cache is: a template compiled for one app must
// declare the names another app's renders pass.
const names = new Set<string>();
let declared: string[] = [];
/** Compiled partials (see `partial` below) by file, kept and cleared with EJS's own template cache. */
const partials = new Map<string, ejs.TemplateFunction>();

/**
 * EJS without its `with (locals)` block: a page's locals are declared as plain variables
 * (`destructuredLocals`), which V8 compiles to fast local reads; under `with` every name is a
 * dynamic scope lookup (the catalogue page rendered in 180 us with it and 65 us without).
 * Templates keep reading their locals by name. The declared names are every name any render has
 * passed so far (one this render leaves out reads as undefined): a new one recompiles the
 * templates once, so no page ever sees a name undeclared that `with` would have found. A name
 * passed only to an include (`include(file, { caption })`) is not seen here: the included
 * template reads it as `locals.caption`.
 *
 * Values are escaped by `escape-html`, which returns a string with nothing to escape without
 * rebuilding it (EJS's own runs a replace over every value), and the template reads the object
 * Express passes instead of a copy: the catalogue page then renders in ~45 us instead of ~70 us
 * (a page escapes some 400 values).
 *
 * Includes name their file from the views folder (`include('/partials/head')`, resolved against
 * `root`): EJS looks a relative include up on disk at every render, cached templates or not, and
 * those `existsSync` calls were 2.6% of the portal's CPU serving the catalogue.
 *
 * `partial('/partials/head')` renders a file of the views folder with the page's own locals, as
 * `include` without data does, but hands it that very object: EJS's `include` copies every local
 * and every compile option into fresh objects first, twice per include, and a catalogue page's
 * three includes spent 2.4% of the portal's CPU in those copies. (`include(file, data)` stays for
 * a partial given locals of its own.)
 */
export function ejsWithoutWith() {
  return (file: string, options: object, done: Done): void => {
    const data = options as Record<string, unknown>;
    const settings = data.settings as { views: string; 'view cache'?: boolean };
    const cache = Boolean(settings['view cache']);
    const compileOptions = {
      root: settings.views,
      views: [settings.views],
      cache,
      _with: false,
      destructuredLocals: declared,
      escape,
      // The render's object is the template's locals, not a copy of it made at every render.
      unsafePrototypeLocals: true,
    } as ejs.Options;
    data.partial = (name: string): string => {
      const filename = path.join(settings.views, `${name}.ejs`);
      let template = cache ? partials.get(filename) : undefined;
      if (!template) {
        template = ejs.compile(readFileSync(filename, 'utf8'), { ...compileOptions, filename }) as ejs.TemplateFunction;
        if (cache) partials.set(filename, template);
      }
      return template(data) as string;
    };
    let grew = false;
    for (const name of Object.keys(data)) {
      if (!names.has(name) && IDENTIFIER.test(name) && !RESERVED.has(name)) {
        names.add(name);
        grew = true;
      }
    }
    if (grew) {
      declared = [...names];
      ejs.clearCache();
      partials.clear();
      compileOptions.destructuredLocals = declared;
    }
    ejs.renderFile(file, data, compileOptions, done);
  };
}
