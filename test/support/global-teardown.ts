export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__CAMPUS_CONTAINERS__ ?? []).map((c) => c.stop()));
}
