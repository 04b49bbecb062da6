package dev.ollamapatch.doctor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A filesystem root for {@code doctor --root}: a vGPU-like sysfs, /dev nodes, /proc files and /etc,
 * written as plain files the way the kernel shows them. Methods return this for chaining.
 */
final class FakeRoot {
    final Path root;

    FakeRoot(Path root) {
        this.root = root;
    }

    Path path(String absolute) {
        return root.resolve(absolute.substring(1));
    }

    FakeRoot file(String absolute, String content) throws IOException {
        Path p = path(absolute);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        return this;
    }

    /** A PCI function as /sys/bus/pci/devices/ADDRESS shows it ({@code class} e.g. 0x030200 for a 3D controller). */
    FakeRoot pci(String address, int vendor, int device, int pciClass) throws IOException {
        String d = "/sys/bus/pci/devices/" + address + "/";
        return file(d + "vendor", String.format("0x%04x%n", vendor))
                .file(d + "device", String.format("0x%04x%n", device))
                .file(d + "class", String.format("0x%06x%n", pciClass))
                .file(d + "subsystem_vendor", "0x10de\n")
                .file(d + "subsystem_device", "0x1626\n");
    }

    /** An NVIDIA 3D controller (a vGPU or a datacenter GPU in passthrough). */
    FakeRoot nvidiaGpu(String address, int device) throws IOException {
        return pci(address, 0x10de, device, 0x030200);
    }

    /** A working NVIDIA driver: /dev/nvidiactl, /dev/nvidia0.., /dev/nvidia-uvm, modules loaded. */
    FakeRoot driverLoaded(int gpus) throws IOException {
        file("/dev/nvidiactl", "").file("/dev/nvidia-uvm", "");
        for (int i = 0; i < gpus; i++) file("/dev/nvidia" + i, "");
        return file("/proc/modules", "nvidia_uvm 1437696 0 - Live 0x0\nnvidia 56512512 1 nvidia_uvm, Live 0x0\n");
    }

    FakeRoot cpu(String flags) throws IOException {
        return file("/proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: " + flags + "\n\n");
    }

    FakeRoot config(String text) throws IOException {
        return file("/etc/ollama-patch/shim.conf", text);
    }

    /** A libcuda.so.1 in a default library directory (its content is not read, only found). */
    FakeRoot libcuda() throws IOException {
        return file("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "");
    }

    static String virtualConfig(String driver, String... busIds) {
        StringBuilder b = new StringBuilder("[shim]\nmode = virtual\ndriver_version = " + driver + "\ncuda_driver_version = 12080\n");
        for (int i = 0; i < busIds.length; i++) {
            b.append("\n[device.").append(i).append("]\nname = NVIDIA H100 PCIe\n")
                    .append("uuid = GPU-3f1c2d4e-0000-4000-8000-00000000000").append(i + 1).append('\n')
                    .append("pci_bus_id = ").append(busIds[i]).append('\n')
                    .append("pci_device_id = 0x233110de\nmemory_total = 85899345920\ncompute_capability = 9.0\n");
        }
        return b.toString();
    }
}
