/**
 * The mounted multi-host properties (a client daemon notices a re-format
 * within 2 s; client permissions) on the simulated non-coherent device.
 */
process.env.FAMFS_SIM_NONCOHERENT = '29,0.05';
delete process.env.FAMFS_COHERENT;
await import('../reliability/mounted.test.js');
