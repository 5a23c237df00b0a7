import { bytes, count, num } from '../src/http/wording';

test('numbers on pages have their thousands grouped; counts agree with their noun', () => {
  expect(num(3867)).toBe('3,867');
  expect(num('1234567')).toBe('1,234,567');
  expect(num(12.5)).toBe('12.5');
  expect(num(0)).toBe('0');
  expect([num(null), num(undefined), num('')]).toEqual(['', '', '']);
  expect(num('n/a')).toBe('n/a');
  expect(count(1, 'cycle')).toBe('1 cycle');
  expect(count(3867, 'row')).toBe('3,867 rows');
  expect(count('0', 'table')).toBe('0 tables');
  expect(bytes(512)).toBe('512 B');
});
