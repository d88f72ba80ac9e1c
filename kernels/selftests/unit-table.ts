/** One uffd-unit-tests test and the memory types it runs on, from the program's own table. */
export interface UnitTest {
  name: string;
  mems: string[];
}

// The tests and memory types of uffd-unit-tests as its source declares them (mem_types[] and
// uffd_tests[] with their mem_targets), so the cases are known before anything runs. The two
// UFFDIO_API checks it makes first, outside the table, are cases too.
export function unitTestTable(source: string): UnitTest[] {
  const mems = [...source.matchAll(/\.name\s*=\s*"([^"]+)",\s*\.mem_flag\s*=\s*(MEM_\w+)/g)].map((m) => ({ name: m[1]!, flag: m[2]! }));
  const all = /#define\s+MEM_ALL\s+\(([^)]*)\)/.exec(source)?.[1]?.split('|').map((f) => f.replace(/\\/g, '').trim()) ?? mems.map((m) => m.flag);
  const table = source.slice(source.indexOf('uffd_tests[] = {'));
  const tests = [...table.matchAll(/\.name\s*=\s*"([^"]+)",[\s\S]*?\.mem_targets\s*=\s*([^,]+),/g)].map((m) => {
    const flags = m[2]!.split('|').map((f) => f.trim()).flatMap((f) => (f === 'MEM_ALL' ? all : [f]));
    return { name: m[1]!, mems: mems.filter((mem) => flags.includes(mem.flag)).map((mem) => mem.name) };
  });
  return [{ name: 'UFFDIO_API (with syscall)', mems: [''] }, { name: 'UFFDIO_API (with /dev/userfaultfd)', mems: [''] }, ...tests];
}

