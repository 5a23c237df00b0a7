import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ejsWithoutWith } from '../src/http/view-engine';

/** The view engine declares every local a render has passed, including ones first seen later. */

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'views-'));
  writeFileSync(
    path.join(dir, 'page.ejs'),
    `<%= title %>|<%= typeof note !== 'undefined' ? note : '-' %>|<%- include('part', { extra: 'x' }) %>`,
  );
  writeFileSync(path.join(dir, 'part.ejs'), `<%= title %>+<%= locals.extra %>`);
  writeFileSync(path.join(dir, 'bad.ejs'), `<%= neverPassedByAnyRender %>`);
  writeFileSync(path.join(dir, 'framed.ejs'), `[<%- partial('/frame') %>]`);
  writeFileSync(path.join(dir, 'frame.ejs'), `<%= title %>/<%= typeof later !== 'undefined' ? later : '-' %>`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function render(engine: ReturnType<typeof ejsWithoutWith>, data: object, file = 'page.ejs'): Promise<string> {
  return new Promise((resolve, reject) =>
    engine(path.join(dir, file), { settings: { views: dir, 'view cache': true }, ...data }, (err, html) =>
      err ? reject(err) : resolve(html ?? ''),
    ),
  );
}

test('a local first passed by a later render is seen, the cache notwithstanding', async () => {
  const engine = ejsWithoutWith();
  expect(await render(engine, { title: 'A' })).toBe('A|-|A+x');
  expect(await render(engine, { title: 'B', note: 'n' })).toBe('B|n|B+x');
  expect(await render(engine, { title: 'C' })).toBe('C|-|C+x');
});

test('values are escaped; a name no render ever passed is an error, as under `with`', async () => {
  const engine = ejsWithoutWith();
  expect(await render(engine, { title: '<b>' })).toBe('&lt;b&gt;|-|&lt;b&gt;+x');
  expect(await render(engine, { title: `"Tom" & 'Jerry'` })).toBe(
    '&quot;Tom&quot; &amp; &#39;Jerry&#39;|-|&quot;Tom&quot; &amp; &#39;Jerry&#39;+x',
  );
  expect(await render(engine, { title: 42 })).toBe('42|-|42+x');
  expect(await render(engine, { title: null })).toBe('|-|+x');
  await expect(render(engine, { title: 'D' }, 'bad.ejs')).rejects.toThrow(/neverPassedByAnyRender/);
});

test('a local named like a keyword or like EJS own variables is read through locals', async () => {
  const engine = ejsWithoutWith();
  expect(await render(engine, { title: 'E', default: 'd', include: 'i', locals: 'l' })).toBe('E|-|E+x');
});

test('a partial renders with the page locals themselves, escaped, and sees a local first passed later', async () => {
  const engine = ejsWithoutWith();
  expect(await render(engine, { title: 'A' }, 'framed.ejs')).toBe('[A/-]');
  expect(await render(engine, { title: '<i>', later: 'L&' }, 'framed.ejs')).toBe('[&lt;i&gt;/L&amp;]');
  expect(await render(engine, { title: 'C' }, 'framed.ejs')).toBe('[C/-]');
});
