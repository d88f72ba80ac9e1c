import t from 'tap';
import { FaultlineError } from '../runner/core/errors.js';
import { assertKernelOptions, missingOptions, parseKernelConfig, requiredKernelOptions } from '../kernels/config.js';

const allSet = requiredKernelOptions.map((o) => `${o.name}=y`).join('\n');

t.test('parses values, strings and "is not set"', async (t) => {
  const config = parseKernelConfig('#\n# comment\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C="x y"\n# CONFIG_D is not set\nCONFIG_E=0x10\n\n');
  t.same([...config], [['CONFIG_A', 'y'], ['CONFIG_B', 'm'], ['CONFIG_C', 'x y'], ['CONFIG_D', 'n'], ['CONFIG_E', '0x10']]);
});

t.test('a config with every option built in passes', async (t) => {
  t.same(missingOptions(parseKernelConfig(allSet)), []);
  t.doesNotThrow(() => assertKernelOptions(parseKernelConfig(allSet), 'k'));
});

t.test('options that are modules, unset or absent are named', async (t) => {
  const text = allSet
    .replace('CONFIG_USERFAULTFD=y', '# CONFIG_USERFAULTFD is not set')
    .replace('CONFIG_SERIAL_8250_CONSOLE=y', '')
    .replace('CONFIG_HUGETLBFS=y', 'CONFIG_HUGETLBFS=m');
  const config = parseKernelConfig(text);
  t.same(missingOptions(config).map((o) => o.name), ['CONFIG_USERFAULTFD', 'CONFIG_HUGETLBFS', 'CONFIG_SERIAL_8250_CONSOLE']);
  t.same(missingOptions(config, 'suites').map((o) => o.name), ['CONFIG_USERFAULTFD', 'CONFIG_HUGETLBFS']);
  try {
    assertKernelOptions(config, 'bzImage (config .config)');
    t.fail('should throw');
  } catch (error) {
    t.ok(error instanceof FaultlineError);
    const e = error as FaultlineError;
    t.equal(e.kind, 'kernel');
    t.equal(
      e.describe(),
      'bzImage (config .config): kernel config lacks CONFIG_USERFAULTFD (not set; needed for the userfaultfd syscall under test), ' +
        'CONFIG_HUGETLBFS (=m, a module, which the guest cannot load; needed for hugetlb-backed cases), ' +
        'CONFIG_SERIAL_8250_CONSOLE (not in the config; needed for console=ttyS0)\n' +
        '  build the kernel with CONFIG_USERFAULTFD=y CONFIG_HUGETLBFS=y CONFIG_SERIAL_8250_CONSOLE=y',
    );
  }
});
