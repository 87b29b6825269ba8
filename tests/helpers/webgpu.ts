import { existsSync } from 'node:fs';

/**
 * WebGPU on the CPU for tests: Dawn (the `webgpu` package) over SwiftShader's Vulkan driver, which Debian ships in
 * chromium-common (with the loader in libvulkan1). `.ci/run` installs both; without them the webgpu tests skip,
 * and say so in one loud line.
 */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function vulkanLoaderPresent(): boolean {
  return ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some(existsSync);
}

/** Why the webgpu tests cannot run here, or null when they can. */
export function webgpuSkipReason(): string | null {
  if (process.platform !== 'linux') return null;
  if (!existsSync(SWIFTSHADER_ICD)) return `no SwiftShader Vulkan driver (${SWIFTSHADER_ICD}): apt-get install chromium-common libvulkan1`;
  if (!vulkanLoaderPresent()) return 'no Vulkan loader (libvulkan.so.1): apt-get install libvulkan1';
  return null;
}

/**
 * Points Dawn at SwiftShader (must run before the `webgpu` package creates its instance) and returns the value for
 * node:test's `skip` option: false when the tests can run, else the reason, printed once to stderr.
 */
export function useSoftwareWebGpu(): false | string {
  const reason = webgpuSkipReason();
  if (reason) {
    process.stderr.write(`\n!!! SKIPPING WEBGPU TESTS: ${reason} !!!\n\n`);
    return reason;
  }
  if (process.platform === 'linux' && !process.env['VK_ICD_FILENAMES'] && !process.env['VK_DRIVER_FILES']) {
    process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  }
  return false;
}

/** Environment for a child process (the CLI) that should see the software adapter. */
export function softwareWebGpuEnv(): NodeJS.ProcessEnv {
  return process.platform === 'linux' ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : {};
}
