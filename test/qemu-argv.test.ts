import t from 'tap';
import { defaultCpu, guestMachine, kernelCommandLine, memoryMiB, qemuArgv, type QemuOptions } from '../runner/qemu/argv.js';
import { defaultGuestConfig, type GuestMachine } from '../runner/qemu/guest-config.js';

const guest: GuestMachine = { machine: 'pc', cpus: 2, baseMemoryMiB: 512, loglevel: 7, append: [] };
const base: QemuOptions = {
  kernel: 'k/vmlinuz',
  initrd: 'i/initrd.img',
  accel: 'tcg',
  guest,
  result: { kind: 'socket', path: '/tmp/r/result.sock' },
  hugepages: 0,
};

t.test('TCG on pc with a socket result channel', async (t) => {
  t.same(qemuArgv(base), [
    '-M', 'pc', '-accel', 'tcg', '-cpu', 'max',
    '-m', '512', '-smp', '2',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', 'k/vmlinuz',
    '-initrd', 'i/initrd.img',
    '-append', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check',
    '-serial', 'stdio',
    '-chardev', 'socket,id=result,path=/tmp/r/result.sock',
    '-device', 'isa-serial,chardev=result,index=1',
  ]);
});

t.test('KVM on microvm with a file result channel, huge pages and extra words', async (t) => {
  t.same(
    qemuArgv({ ...base, accel: 'kvm', guest: { ...guest, machine: 'microvm', cpus: 1, append: ['nokaslr'] }, hugepages: 8, result: { kind: 'file', path: 'out/result.tap' } }),
    [
      '-M', 'microvm', '-accel', 'kvm', '-cpu', 'qemu64',
      '-m', '528', '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-kernel', 'k/vmlinuz',
      '-initrd', 'i/initrd.img',
      '-append', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check reboot=t faultline.hugepages=8 nokaslr',
      '-serial', 'stdio',
      '-chardev', 'file,id=result,path=out/result.tap',
      '-device', 'isa-serial,chardev=result,index=1',
    ],
  );
});

t.test('the probe shape: no initrd, no result port, an explicit CPU', async (t) => {
  t.same(qemuArgv({ ...base, accel: 'kvm', initrd: null, result: null, cpu: 'Skylake-Client' }), [
    '-M', 'pc', '-accel', 'kvm', '-cpu', 'Skylake-Client',
    '-m', '512', '-smp', '2',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', 'k/vmlinuz',
    '-append', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check',
    '-serial', 'stdio',
  ]);
});

t.test('commas in a chardev path are doubled', async (t) => {
  const argv = qemuArgv({ ...base, result: { kind: 'file', path: 'a,b/result' } });
  t.equal(argv[argv.indexOf('-chardev') + 1], 'file,id=result,path=a,,b/result');
});

t.test('kernel command line and defaults', async (t) => {
  t.equal(kernelCommandLine({ guest: { ...guest, machine: 'microvm', loglevel: 5 }, accel: 'kvm', hugepages: 0 }), 'console=ttyS0 loglevel=5 panic=-1 no_timer_check reboot=t');
  t.equal(kernelCommandLine({ guest: { ...guest, append: ['a=1'] }, accel: 'tcg', hugepages: 4 }), 'console=ttyS0 loglevel=7 panic=-1 no_timer_check faultline.hugepages=4 a=1');
  t.equal(defaultCpu('tcg'), 'max');
  t.equal(defaultCpu('kvm'), 'qemu64');
  t.equal(memoryMiB(defaultGuestConfig, 0), 512, 'the default guest');
  t.equal(memoryMiB(defaultGuestConfig, 16), 544, 'grows with its huge pages');
  t.same([defaultGuestConfig.machine, defaultGuestConfig.cpus, defaultGuestConfig.loglevel], ['auto', 1, 6]);
});

t.test('a swap disk is an NVMe drive the agent is told about', async (t) => {
  const argv = qemuArgv({ ...base, swapDisk: 'w/swap,1.img' });
  t.same(argv.slice(-4), ['-drive', 'file=w/swap,,1.img,if=none,id=swap,format=raw', '-device', 'nvme,drive=swap,serial=faultline-swap']);
  t.equal(argv[argv.indexOf('-append') + 1], 'console=ttyS0 loglevel=7 panic=-1 no_timer_check faultline.swap=/dev/nvme0n1');
  t.notOk(qemuArgv(base).includes('-drive'), 'no disk unless asked');
});

t.test('the hung-task timeout goes to the agent as a faultline word, before the user\'s own', async (t) => {
  t.equal(kernelCommandLine({ guest: { ...guest, loglevel: 6, append: ['oops=panic'] }, accel: 'tcg', hugepages: 0, hungTaskSecs: 6 }), 'console=ttyS0 loglevel=6 panic=-1 no_timer_check faultline.hung_task_secs=6 oops=panic');
});

t.test('auto takes microvm where it boots reliably, and pc where a guest needs what only pc gives', async (t) => {
  const auto = { ...guest, machine: 'auto' as const };
  t.equal(guestMachine({ guest: auto, accel: 'kvm' }), 'microvm', 'KVM: the kernel reads the TSC rate from kvmclock');
  t.equal(guestMachine({ guest: auto, accel: 'tcg', tscKhz: 2596149 }), 'microvm', 'TCG with the host TSC rate known');
  t.equal(guestMachine({ guest: auto, accel: 'tcg', tscKhz: null }), 'pc', 'TCG without it: the calibration could hang');
  t.equal(guestMachine({ guest: auto, accel: 'kvm', swapDisk: 's.img' }), 'pc', 'the NVMe swap disk needs PCI: pc, unless the kernel has ACPI');
  t.equal(guestMachine({ guest: auto, accel: 'tcg', tscKhz: 2596149, swapDisk: 's.img', kernelAcpi: true }), 'microvm', 'an ACPI kernel finds microvm\'s PCIe');
  t.equal(guestMachine({ guest: { ...guest, machine: 'microvm' }, accel: 'tcg', swapDisk: 's.img' }), 'microvm', '--machine forces one');
  t.equal(guestMachine({ guest: { ...guest, machine: 'pc' }, accel: 'kvm' }), 'pc');
});

t.test('microvm under TCG is told the host TSC rate; pc and KVM guests are not', async (t) => {
  const auto = { ...guest, machine: 'auto' as const };
  const line = (o: Partial<QemuOptions>) => { const argv = qemuArgv({ ...base, guest: auto, ...o }); return [argv[1], argv[argv.indexOf('-append') + 1]]; };
  t.same(line({ tscKhz: 2596149 }), ['microvm', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check reboot=t tsc_early_khz=2596149']);
  t.same(line({ accel: 'kvm', tscKhz: 2596149 }), ['microvm', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check reboot=t']);
  t.same(line({ tscKhz: 2596149, swapDisk: 's.img' }), ['pc', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check faultline.swap=/dev/nvme0n1']);
  t.same(line({ tscKhz: 2596149, swapDisk: 's.img', kernelAcpi: true }), ['microvm,pcie=on', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check reboot=t tsc_early_khz=2596149 faultline.swap=/dev/nvme0n1']);
  t.same(line({ guest: { ...guest, machine: 'microvm' } }), ['microvm', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check reboot=t'], 'forced without a rate: no fix to give');
  t.same(line({ guest: { ...guest, machine: 'pc' }, tscKhz: 2596149 }), ['pc', 'console=ttyS0 loglevel=7 panic=-1 no_timer_check']);
});
