import { stat } from 'node:fs/promises';

// Cache hits are decided by whether a file is there; one place says how to ask.
export const pathExists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

export const isDirectory = (path: string): Promise<boolean> => stat(path).then((s) => s.isDirectory(), () => false);
export const isFile = (path: string): Promise<boolean> => stat(path).then((s) => s.isFile(), () => false);
