package dev.ollamapatch.doctor;

import java.util.Locale;

/**
 * A PCI function as sysfs lists it under {@code /sys/bus/pci/devices/<address>}: the address in
 * sysfs's form {@code 0000:00:05.0} (domain:bus:device.function, 16-bit domain, lower case) and the
 * ids from its {@code vendor}, {@code device}, {@code class} and {@code subsystem_*} files.
 */
public record PciFunction(String address, int vendor, int device, int pciClass, int subsystemVendor, int subsystemDevice) {
    public static final int NVIDIA = 0x10de;

    /** Display controller (PCI base class 0x03): VGA 0x0300, 3D 0x0302 (vGPUs and datacenter GPUs). */
    public boolean isNvidiaGpu() {
        return vendor == NVIDIA && (pciClass >> 16) == 0x03;
    }

    /** The address as NVML prints {@code nvmlPciInfo_t.busId}: 32-bit domain, upper case ({@code 00000000:00:05.0}). */
    public String nvmlBusId() {
        return nvmlBusId(address);
    }

    /**
     * Normalises any "[domain:]bus:device.function" spelling (sysfs's, NVML's 8-digit or legacy
     * 4-digit one) to NVML's {@code %08X:%02X:%02X.%X}; null when it does not parse.
     */
    public static String nvmlBusId(String any) {
        if (any == null) return null;
        String s = any.trim();
        String[] parts = s.split(":");
        try {
            long domain;
            String bus;
            String devfn;
            if (parts.length == 3) {
                domain = Long.parseLong(parts[0], 16);
                bus = parts[1];
                devfn = parts[2];
            } else if (parts.length == 2) {
                domain = 0;
                bus = parts[0];
                devfn = parts[1];
            } else {
                return null;
            }
            String[] df = devfn.split("\\.");
            int dev = Integer.parseInt(df[0], 16);
            int fn = df.length > 1 ? Integer.parseInt(df[1], 16) : 0;
            int b = Integer.parseInt(bus, 16);
            if (domain > 0xffffffffL || b > 0xff || dev > 0x1f || fn > 7 || df.length > 2) return null;
            return String.format(Locale.ROOT, "%08X:%02X:%02X.%X", domain, b, dev, fn);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** NVML's {@code pciDeviceId}: device id in the upper 16 bits, vendor id in the lower. */
    public long nvmlPciDeviceId() {
        return ((long) device << 16) | vendor;
    }

    public String ids() {
        return String.format(Locale.ROOT, "%04x:%04x", vendor, device);
    }
}
