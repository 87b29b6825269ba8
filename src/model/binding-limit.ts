import type { GpuLimits } from './backend.js';

/**
 * Dawn caps storage bindings at 2 GiB − 4 on NVIDIA's Vulkan driver whatever the adapter reports
 * (PhysicalDeviceVk.cpp: OpArrayLength reads 0 past 2 GB), and other drivers have had the same bug; the project
 * never trusts a larger binding.
 */
export const MAX_SAFE_BINDING = 2 ** 31 - 4;

/** The largest tensor, in bytes, one buffer binding can hold on an adapter with these limits. */
export function bindingLimit(limits: GpuLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, MAX_SAFE_BINDING);
}
