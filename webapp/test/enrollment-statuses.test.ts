import { parseEnrollmentStatuses } from '../src/http/session';

describe('the enrollment statuses read with a session', () => {
  test('are read as MySQL wrote them', () => {
    expect(parseEnrollmentStatuses('0 ')).toEqual(new Map());
    expect(parseEnrollmentStatuses('3 12:1,7:0,300:1')).toEqual(
      new Map([
        [12, 'enrolled'],
        [7, 'dropped'],
        [300, 'enrolled'],
      ]),
    );
  });

  test("are not trusted when GROUP_CONCAT's limit cut them short, wherever it cut", () => {
    for (const cut of ['3 12:1,7:0', '3 12:1,7:0,', '3 12:1,7:0,3', '3 12:1,7:0,30', '3 12:1,7:0,300:', '2 12:1,7'])
      expect(parseEnrollmentStatuses(cut)).toBeUndefined();
  });
});
