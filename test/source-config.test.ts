import t from 'tap';
import { describeMismatch, mergedConfigCheck } from '../kernels/source/config-check.js';
import { compiledObjects, firstBuildError, parseMakeLine } from '../kernels/source/progress.js';

// The config check after olddefconfig and the reading of make's output, on small texts.
const fragments = `# what the guest needs
CONFIG_64BIT=y
CONFIG_USERFAULTFD=y
CONFIG_PTE_MARKER_UFFD_WP=y
CONFIG_HZ=250
CONFIG_CMDLINE="console=ttyS0"
# CONFIG_MODULES is not set
CONFIG_DEBUG_INFO=y
CONFIG_NET=m
CONFIG_SWAP=n
`;

t.test('options that stuck pass, dropped ones are named with what they became', async (t) => {
  const dotConfig = `#
# Automatically generated file; DO NOT EDIT.
CONFIG_64BIT=y
CONFIG_USERFAULTFD=y
# CONFIG_PTE_MARKER_UFFD_WP is not set
CONFIG_HZ=1000
CONFIG_CMDLINE="console=ttyS0"
CONFIG_NET=y
`;
  const mismatches = mergedConfigCheck(fragments, dotConfig);
  t.same(mismatches, [
    { option: 'CONFIG_PTE_MARKER_UFFD_WP', wanted: 'y', got: 'n' },
    { option: 'CONFIG_HZ', wanted: '250', got: '1000' },
    { option: 'CONFIG_DEBUG_INFO', wanted: 'y', got: null },
    { option: 'CONFIG_NET', wanted: 'm', got: 'y' },
  ]);
  t.same(mismatches.map(describeMismatch), [
    'CONFIG_PTE_MARKER_UFFD_WP=y ended up not set (probably an unmet dependency)',
    'CONFIG_HZ=250 ended up CONFIG_HZ=1000 (probably an unmet dependency)',
    'CONFIG_DEBUG_INFO=y is absent from .config (probably an unmet dependency)',
    'CONFIG_NET=m ended up CONFIG_NET=y (probably an unmet dependency)',
  ]);
});

t.test('"is not set" is met by an absent option and broken by a set one', async (t) => {
  t.same(mergedConfigCheck('# CONFIG_MODULES is not set\n', 'CONFIG_64BIT=y\n'), []);
  t.same(mergedConfigCheck('# CONFIG_MODULES is not set\n', 'CONFIG_MODULES=y\n'), [{ option: 'CONFIG_MODULES', wanted: 'n', got: 'y' }]);
  t.equal(describeMismatch({ option: 'CONFIG_MODULES', wanted: 'n', got: 'y' }), '# CONFIG_MODULES is not set ended up CONFIG_MODULES=y (probably an unmet dependency)');
});

t.test('the last assignment in the fragments wins, as in Kconfig', async (t) => {
  t.same(mergedConfigCheck('CONFIG_SMP=y\n# CONFIG_SMP is not set\n', '# CONFIG_SMP is not set\n'), []);
  t.same(mergedConfigCheck('# CONFIG_SMP is not set\nCONFIG_SMP=y\n', '# CONFIG_SMP is not set\n'), [{ option: 'CONFIG_SMP', wanted: 'y', got: 'n' }]);
});

t.test("kbuild's quiet lines become compile progress", async (t) => {
  t.same(parseMakeLine('  CC      mm/userfaultfd.o'), { step: 'compile', detail: 'mm/userfaultfd.o', action: 'CC' });
  t.same(parseMakeLine('  AS      arch/x86/boot/pmjump.o'), { step: 'compile', detail: 'arch/x86/boot/pmjump.o', action: 'AS' });
  t.same(parseMakeLine('  LD      vmlinux.o'), { step: 'compile', detail: 'vmlinux.o', action: 'LD' });
  t.same(parseMakeLine('  HOSTCC  scripts/kconfig/conf.o'), { step: 'compile', detail: 'scripts/kconfig/conf.o', action: 'HOSTCC' });
  t.same(parseMakeLine('  CC [M]  fs/ext4/inode.o'), { step: 'compile', detail: 'fs/ext4/inode.o', action: 'CC' });
  t.same(parseMakeLine('Kernel: arch/x86/boot/bzImage is ready  (#2)'), null);
  t.same(parseMakeLine("make[1]: Entering directory '/x/obj'"), null);
  t.same(parseMakeLine('mm/userfaultfd.c: In function ‘foo’:'), null);
  t.same(parseMakeLine('  SYNC    include/config/auto.conf'), { step: 'compile', detail: 'include/config/auto.conf', action: 'SYNC' });
});

const failedLog = `$ make -C /c/work/src O=/c/work/obj ARCH=x86_64 -j2 bzImage
  CC      mm/filemap.o
  CC      mm/userfaultfd.o
/c/work/src/mm/userfaultfd.c: In function ‘mfill_atomic’:
/c/work/src/mm/userfaultfd.c:612:9: error: ‘nosuch’ undeclared (first use in this function)
  612 |         nosuch = 1;
      |         ^~~~~~
/c/work/src/mm/userfaultfd.c:613:9: error: expected ‘;’ before ‘}’ token
make[3]: *** [/c/work/src/scripts/Makefile.build:250: mm/userfaultfd.o] Error 1
make[2]: *** [/c/work/src/scripts/Makefile.build:500: mm] Error 2
`;

t.test('the first compiler error is found and shown tree-relative', async (t) => {
  t.equal(firstBuildError(failedLog, '/c/work/src'), "mm/userfaultfd.c:612:9: error: ‘nosuch’ undeclared (first use in this function)");
  t.equal(firstBuildError(failedLog), "/c/work/src/mm/userfaultfd.c:612:9: error: ‘nosuch’ undeclared (first use in this function)");
  t.equal(
    firstBuildError('  LD      vmlinux\nld: mm/userfaultfd.o: in function `x\':\nuserfaultfd.c:(.text+0x1): undefined reference to `nosuch\'\nmake[1]: *** [Makefile:1] Error 1\n'),
    'ld: mm/userfaultfd.o: in function `x\':',
  );
  t.equal(firstBuildError("make[1]: *** No rule to make target 'bzImagex'.  Stop.\n"), "make[1]: *** No rule to make target 'bzImagex'.  Stop.");
  t.equal(firstBuildError('  CC      mm/x.o\n'), null);
  t.same(compiledObjects(failedLog), ['mm/filemap.o', 'mm/userfaultfd.o']);
});

t.test('the build key sees a fragment\'s settings, not its comments', async (t) => {
  const { settingsOf } = await import('../kernels/source/build.js');
  const a = '# what the guest needs\nCONFIG_BUG=y\n\n# CONFIG_MODULES is not set\n';
  const b = '# reworded: the guest and the watcher\n  CONFIG_BUG=y\n# CONFIG_MODULES is not set';
  t.equal(settingsOf(a), settingsOf(b));
  t.not(settingsOf(a), settingsOf('CONFIG_BUG=n\n# CONFIG_MODULES is not set\n'));
  t.not(settingsOf(a), settingsOf('CONFIG_BUG=y\n'), 'an "is not set" line is a setting');
});
