package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.GlibcVersion;
import dev.ollamapatch.ollama.Generation;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.ollama.ShimDriverConfig;
import dev.ollamapatch.resolve.Resolution;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The doctor's checks: small pure functions from facts (read by {@link Host}, {@link OllamaInstall},
 * {@link ShimQuery}) to one {@link Check} each. Every check that is not ok says the fix in one sentence.
 */
public final class Checks {
    static final String CONFIG_FIX_TOOL = "ollama-patch shim-config";

    private Checks() {}

    /** A failure found while gathering facts (no pure check applies). */
    static Check failure(String id, String summary, String fix) {
        return Check.fail(id, summary, fix);
    }

    // ------------------------------------------------------------------------------ the install

    static Check installFound(OllamaInstall install, String lookedAt) {
        if (install == null || install.binary() == null) {
            return Check.fail("install.found", "no Ollama install found (" + lookedAt + ")",
                    "give the install as TARGET (the ollama binary or the directory with bin/ and lib/ollama).");
        }
        return Check.ok("install.found", install.binary() + " (" + install.machine() + ", "
                + (install.interpreter() == null ? "static" : install.interpreter()) + "), " + install.files().size()
                + " ELF file" + (install.files().size() == 1 ? "" : "s") + " in the install", install.files().stream().map(Path::toString).toArray(String[]::new));
    }

    /**
     * The version and generation as the {@code ollama} package reads them for every report, and what NVML
     * decides in that generation (DESIGN.md section 2).
     */
    static Check installVersion(OllamaInstall install) {
        Identity id = install.identity();
        Generation g = install.generation();
        String v = id.version() != null ? (id.ollama() ? "Ollama " : "version ") + id.version()
                : (id.ollama() ? "Ollama" : "this program") + ", version unknown";
        String summary = v + ", generation " + g.label() + (g == Generation.UNKNOWN ? "" : " (" + g.versions() + ")")
                + "; what NVML decides: " + g.nvmlDecides();
        List<String> ev = new ArrayList<>();
        ev.add("version: " + (id.version() != null ? id.version() + " (" + id.versionSource() + ")" : id.versionSource()));
        id.versionCandidates().forEach(c -> ev.add("version candidate: " + c));
        ev.add("generation " + g.label() + ": " + install.generationSource());
        if (g == Generation.NONE) {
            return new Check("install.version", Status.FAIL, summary, ev, String.join("; ", id.advice()) + ".");
        }
        return new Check("install.version", Status.OK, summary, ev, null);
    }

    static Check installPatched(OllamaInstall install) {
        if (install.patched().isEmpty() && install.generation() == Generation.NONE) {
            return Check.warn("install.patched", "not patched, and nothing to patch: this version names no NVML on Linux",
                    "see install.version: an NVML shim cannot help this version.");
        }
        if (install.patched().isEmpty()) {
            return Check.fail("install.patched", "not patched: no file of the install loads the shim",
                    "run 'ollama-patch apply " + install.installDir() + "' (it keeps backups; 'ollama-patch restore' undoes it).");
        }
        List<String> ev = new ArrayList<>();
        for (OllamaInstall.PatchedFile p : install.patched()) ev.add(p.file() + ": " + String.join(", ", p.sitePaths()) + " (" + p.how() + ")");
        List<String> names = install.patched().stream().map(p -> p.file().getFileName().toString()).toList();
        return new Check("install.patched", Status.OK, install.patched().size() + " patched file"
                + (install.patched().size() == 1 ? "" : "s") + " (" + String.join(", ", names) + "), "
                + (install.manifests().isEmpty() ? "no manifest" : "manifest " + String.join(", ", install.manifests().stream().map(Path::toString).toList())), ev, null);
    }

    static Check installVerify(List<Path> manifests, List<String> differences) {
        String manifest = String.join(", ", manifests.stream().map(Path::toString).toList());
        if (manifests.isEmpty()) {
            return Check.warn("install.verify", "no manifest to verify against (patched as a copy with -o, or by another tool)",
                    "patch the install in place ('ollama-patch apply TARGET') so that verify and restore can check it.");
        }
        if (differences.isEmpty()) return Check.ok("install.verify", "every hash and replacement in " + manifest + " holds");
        return new Check("install.verify", Status.FAIL, differences.size() + " difference" + (differences.size() == 1 ? "" : "s")
                + " from " + manifest + ": " + differences.get(0), differences,
                "something changed the install after it was patched (an upgrade?): run 'ollama-patch apply' on it again.");
    }

    /**
     * The shim at the file the loader opens for one path of a patched file: there, of the file's machine, a
     * shared object named libnvidia-ml.so.1, and loadable against this host's glibc. {@code how} says how
     * the loader's choice was worked out; the first evidence line is {@code resolved} itself.
     */
    static Check site(OllamaInstall.PatchedFile file, String sitePath, List<String> offsets, Path resolved, String how,
                      ShimFile shim, Optional<GlibcVersion> hostGlibc) {
        String id = "install.site";
        List<String> ev = List.of(resolved.toString(), "sites at file offset " + String.join(", ", offsets) + " (" + file.how() + ")",
                "loader: " + how);
        String loads = file.file() + " names " + sitePath + ": loader opens " + resolved;
        if (!shim.exists()) {
            return new Check(id, Status.FAIL, loads + ", which does not exist", ev,
                    "install the shim there: 'ollama-patch apply --force " + file.file() + "' puts nvml.so back.");
        }
        if (shim.problem() != null) {
            return new Check(id, Status.FAIL, loads + ": " + shim.problem(), ev, "replace it with the bundled shim by re-applying with --force.");
        }
        if (shim.newestGlibc() != null && hostGlibc.isPresent() && shim.newestGlibc().compareTo(hostGlibc.get()) > 0) {
            return new Check(id, Status.FAIL, loads + ", which needs " + shim.newestGlibc() + " but this host's glibc is " + Glibc.release(hostGlibc.get()), ev,
                    "install a shim built for older glibc (the bundled shim needs at most GLIBC_2.17): re-apply with --force.");
        }
        if (!shim.serves().isEmpty()) {
            // apply's own rule for a shim (ShimCheck): machine and class, SONAME, the NVML functions the file names, glibc.
            List<String> all = new ArrayList<>(ev);
            all.addAll(shim.serves());
            boolean machine = file.machine() != null && !file.machine().equals(shim.machine());
            return new Check(id, Status.FAIL, loads + ", which cannot serve it: " + shim.serves().get(0)
                    + (shim.serves().size() > 1 ? " (+" + (shim.serves().size() - 1) + " more)" : ""), all,
                    machine ? "install the " + file.machine() + " shim: re-apply with --force (the bundled one matches) or --shim FILE of that machine."
                            : "install the bundled shim there: re-apply with --force.");
        }
        String glibc = shim.newestGlibc() == null ? "no GLIBC_ version needs"
                : "needs " + shim.newestGlibc() + hostGlibc.map(h -> " <= host " + Glibc.release(h)).orElse(" (host glibc unknown)");
        return new Check(id, Status.OK, loads + ": present, " + shim.machine() + ", " + glibc, ev, null);
    }

    /**
     * The loader will not expand {@code $ORIGIN} for this site: musl never does in a dlopen argument or
     * DT_NEEDED (a failure for everyone), glibc in secure-execution mode only for users other than root.
     */
    static Check siteNotExpanded(OllamaInstall.PatchedFile file, String sitePath, List<String> offsets, Resolution r, boolean musl) {
        List<String> ev = List.of("sites at file offset " + String.join(", ", offsets) + " (" + file.how() + ")", "loader: " + r.detail());
        String summary = file.file() + " names " + sitePath + ", but " + r.describe(sitePath.substring(sitePath.lastIndexOf('/') + 1));
        if (musl) {
            return new Check("install.site", Status.FAIL, summary, ev,
                    "re-apply with an absolute shim path: 'ollama-patch apply --force --shim-path /ABSOLUTE/nvml.so " + file.file() + "'.");
        }
        return new Check("install.site", Status.WARN, summary, ev,
                "remove the capability or set-id bit ('setcap -r FILE', 'chmod u-s,g-s FILE'), or re-apply with an absolute --shim-path.");
    }

    /** No directory can be named for {@code $ORIGIN}: which object calls dlopen with the string is not known. */
    static Check siteUnknown(OllamaInstall.PatchedFile file, String sitePath, List<String> offsets, Resolution r) {
        return new Check("install.site", Status.WARN, file.file() + " names " + sitePath + ": the loader's directory for it is unknown ("
                + r.detail() + ")", List.of("sites at file offset " + String.join(", ", offsets) + " (" + file.how() + ")"),
                "re-apply with an absolute --shim-path so that the loader opens a known file.");
    }

    // ---------------------------------------------------------------------------------- the shim

    static Check shimConfig(ShimAnswer a, String configPath, boolean configExists) {
        String cfg = configPath == null ? "the default /etc/ollama-patch/shim.conf" : configPath;
        if (!a.loaded()) {
            return Check.fail("shim.config", "the shim " + a.library() + " does not load here: " + a.loadError(),
                    "install a shim for this machine and glibc (re-apply with --force).");
        }
        if (!a.initialised()) {
            String said = a.shimMessage() != null ? a.shimMessage().replaceFirst("^ollama-patch shim: ", "")
                    : "nvmlInit_v2 returned " + ShimAnswer.nvmlCode(a.init());
            if (!configExists) {
                return Check.fail("shim.config", said, "create the config from this machine's devices: '" + CONFIG_FIX_TOOL + " > " + cfg
                        + "' (or install the NVIDIA driver's NVML for forward mode).");
            }
            if ("forward".equals(a.mode()) || (a.shimMessage() != null && a.shimMessage().contains("real NVML"))) {
                return Check.fail("shim.config", "forward mode: " + said,
                        "name the vendor library with 'real = /usr/lib/.../libnvidia-ml.so.<version>' in " + cfg + ", or use mode = virtual.");
            }
            return Check.fail("shim.config", said + (said.contains(cfg) ? "" : " (config " + cfg + ")"),
                    "fix the line the shim names, or start from this machine's devices: '" + CONFIG_FIX_TOOL + " > " + cfg + "'.");
        }
        return Check.ok("shim.config", (configExists ? "config " + cfg + " read by the shim" : "no config " + cfg
                + ": the shim forwards to the NVML it found") + ": mode " + a.mode()
                + ("forward".equals(a.mode()) ? ", real NVML " + a.real() : "") + ", driver " + a.driverVersion()
                + ", " + a.devices().size() + " device" + (a.devices().size() == 1 ? "" : "s"));
    }

    static Check shimDevices(ShimAnswer a, String configPath) {
        if (!a.initialised()) {
            return Check.fail("shim.devices", "the shim reports no devices (nvmlInit_v2: " + ShimAnswer.nvmlCode(a.init()) + ")",
                    "fix the shim's config first (see shim.config).");
        }
        if (a.devices().isEmpty()) {
            return Check.fail("shim.devices", "the shim initialises but reports 0 devices",
                    "add a [device.0] section to " + (configPath == null ? "the config" : configPath) + " ('" + CONFIG_FIX_TOOL + "' prints one for this machine).");
        }
        List<String> ev = new ArrayList<>();
        for (ShimAnswer.Device d : a.devices()) {
            ev.add("device " + d.index() + ": " + d.name() + ", " + d.uuid() + ", bus " + d.pciBusId() + ", "
                    + (d.memoryTotal() == null ? "memory ?" : gib(d.memoryTotal()) + " total") + ", cc " + d.computeCapability());
        }
        return new Check("shim.devices", Status.OK, String.join("; ", ev), ev, null);
    }

    // ----------------------------------------------------------------------------------- the host

    static Check hostPci(List<PciFunction> gpus, List<PciFunction> all) {
        if (gpus.isEmpty()) {
            List<String> ev = all.stream().filter(f -> f.vendor() == PciFunction.NVIDIA || (f.pciClass() >> 16) == 0x03)
                    .map(f -> f.address() + " " + f.ids() + String.format(Locale.ROOT, " class 0x%06x", f.pciClass())).toList();
            return new Check("host.pci", Status.FAIL, "no NVIDIA display or 3D controller in /sys/bus/pci/devices (vendor 0x10de, class 0x03xx) among "
                    + all.size() + " PCI function" + (all.size() == 1 ? "" : "s"), ev,
                    "attach the GPU or vGPU to this VM (PCI passthrough or a mediated device); no software can use a GPU the VM does not have.");
        }
        List<String> ev = gpus.stream().map(g -> g.address() + " " + g.ids() + String.format(Locale.ROOT, " class 0x%06x", g.pciClass())).toList();
        return new Check("host.pci", Status.OK, gpus.size() + " NVIDIA GPU function" + (gpus.size() == 1 ? "" : "s") + ": "
                + String.join(", ", ev), ev, null);
    }

    /** The shim's devices against sysfs: NVML's bus id {@code 00000000:00:05.0} vs sysfs's {@code 0000:00:05.0}, and the device id. */
    static Check pciMatch(ShimAnswer a, List<PciFunction> gpus, String configPath) {
        String cfg = configPath == null ? "the shim's config" : configPath;
        if (!a.initialised() || a.devices().isEmpty() || gpus.isEmpty()) {
            return Check.warn("host.pci-match", "skipped: " + (gpus.isEmpty() ? "no NVIDIA PCI function" : "no device from the shim"),
                    "fix the failing checks above first.");
        }
        List<String> problems = new ArrayList<>();
        String fix = null;
        Set<String> matched = new LinkedHashSet<>();
        for (ShimAnswer.Device d : a.devices()) {
            String bus = PciFunction.nvmlBusId(d.pciBusId());
            PciFunction hit = gpus.stream().filter(g -> g.nvmlBusId().equals(bus)).findFirst().orElse(null);
            if (hit == null) {
                String free = gpus.stream().map(PciFunction::nvmlBusId).filter(b -> !matched.contains(b)).findFirst().orElse(gpus.get(0).nvmlBusId());
                problems.add("shim device " + d.index() + " is at " + d.pciBusId() + " but sysfs has no NVIDIA GPU there (it has "
                        + String.join(", ", gpus.stream().map(PciFunction::address).toList()) + ")");
                if (fix == null) fix = "set 'pci_bus_id = " + free + "' in [device." + d.index() + "] of " + cfg + " (sysfs writes it " + sysfsForm(free) + ").";
                continue;
            }
            matched.add(hit.nvmlBusId());
            if (d.pciDeviceId() != null && d.pciDeviceId() != 0 && d.pciDeviceId() != hit.nvmlPciDeviceId()) {
                problems.add(String.format(Locale.ROOT, "shim device %d at %s says pci_device_id 0x%08x, sysfs says 0x%08x (%s)",
                        d.index(), d.pciBusId(), d.pciDeviceId(), hit.nvmlPciDeviceId(), hit.ids()));
                if (fix == null) fix = String.format(Locale.ROOT, "set 'pci_device_id = 0x%08x' in [device.%d] of %s.", hit.nvmlPciDeviceId(), d.index(), cfg);
            }
        }
        if (!problems.isEmpty()) {
            return new Check("host.pci-match", Status.FAIL, problems.get(0) + (problems.size() > 1 ? " (+" + (problems.size() - 1) + " more)" : ""), problems, fix);
        }
        List<String> unused = gpus.stream().filter(g -> !matched.contains(g.nvmlBusId())).map(PciFunction::address).toList();
        if (!unused.isEmpty()) {
            return Check.warn("host.pci-match", "every shim device matches sysfs, but " + String.join(", ", unused) + " has no shim device",
                    "add a [device.N] section for it to " + cfg + " ('" + CONFIG_FIX_TOOL + "' prints all of them).");
        }
        return Check.ok("host.pci-match", "every shim device matches a sysfs NVIDIA function by bus id and device id");
    }

    static String sysfsForm(String nvmlBusId) {
        String[] p = nvmlBusId.split(":");
        return String.format(Locale.ROOT, "%04x:%s:%s", Long.parseLong(p[0], 16) & 0xffff, p[1].toLowerCase(Locale.ROOT), p[2].toLowerCase(Locale.ROOT));
    }

    static Check deviceNodes(Set<String> nodes, Set<String> modules) {
        List<String> ev = List.of("/dev: " + (nodes.isEmpty() ? "no nvidia* nodes" : String.join(" ", nodes)),
                "modules: " + String.join(" ", modules.stream().filter(m -> m.startsWith("nvidia")).toList()));
        boolean ctl = nodes.contains("nvidiactl");
        boolean gpu = nodes.stream().anyMatch(n -> n.matches("nvidia\\d+"));
        boolean uvm = nodes.contains("nvidia-uvm");
        if (!ctl || !gpu) {
            return new Check("host.dev", Status.FAIL, "no /dev/nvidiactl and /dev/nvidia<N>: the NVIDIA kernel driver is not loaded"
                    + (modules.contains("nvidia") ? " (module nvidia is loaded, but the nodes are missing)" : ""), ev,
                    "install the NVIDIA guest driver for this GPU (for vGPU the GRID guest driver matching the host), then reboot or 'modprobe nvidia'.");
        }
        if (!uvm) {
            return new Check("host.dev", Status.FAIL, "/dev/nvidia-uvm is missing: CUDA cannot initialise without nvidia_uvm", ev,
                    "load it with 'modprobe nvidia-uvm' (and 'nvidia-modprobe -u -c=0' to create the node), and add it to /etc/modules-load.d.");
        }
        return new Check("host.dev", Status.OK, "/dev/nvidiactl, " + String.join(", ", nodes.stream().filter(n -> n.matches("nvidia\\d+")).map(n -> "/dev/" + n).toList())
                + " and /dev/nvidia-uvm present", ev, null);
    }

    static Check libcuda(Optional<Host.Found> found, String machine, Generation g) {
        if (found.isEmpty()) {
            return Check.fail("host.libcuda", "no libcuda.so.1 for " + machine + " in /etc/ld.so.cache or the default library directories"
                            + (g == Generation.A ? "" : g == Generation.UNKNOWN ? "; Ollama 0.12.6 and later see no GPU without it"
                            : "; Ollama generation " + g.label() + " sees no GPU without it"),
                    "install the NVIDIA driver's user-space CUDA library (libcuda.so.1, e.g. Debian's libcuda1 or the driver's .run) and run ldconfig.");
        }
        return Check.ok("host.libcuda", "libcuda.so.1 found: " + found.get().hostPath(), found.get().how());
    }

    static Check cpuFlags(Optional<Set<String>> flags, String machine, Generation g) {
        if (!"x86_64".equals(machine)) return Check.ok("host.cpu", "no CPU flag requirement on " + machine);
        if (flags.isEmpty()) {
            return Check.warn("host.cpu", "/proc/cpuinfo has no flags line", "check that /proc is mounted (or give --root the right root).");
        }
        if (!flags.get().contains("avx")) {
            boolean gpuNeedsAvx = g == Generation.A || g == Generation.NONE;
            String s = "the CPU does not report AVX" + (gpuNeedsAvx ? ": Ollama generation " + g.label() + " disables GPU support without it" : ": Ollama's CPU backends run slowly");
            String fix = "expose AVX/AVX2 to the guest (in QEMU/libvirt use CPU model host-passthrough).";
            return gpuNeedsAvx ? Check.fail("host.cpu", s, fix) : Check.warn("host.cpu", s, fix);
        }
        return Check.ok("host.cpu", "CPU flags: avx" + (flags.get().contains("avx2") ? ", avx2" : "") + (flags.get().contains("avx512f") ? ", avx512f" : ""));
    }

    // -------------------------------------------------------------------------------- Ollama rules

    static Check ollamaRules(Generation g, ShimAnswer a, String configPath) {
        String cfg = configPath == null ? "the shim's config" : configPath;
        if (a == null || !a.initialised()) {
            return Check.warn("ollama.rules", "cannot check Ollama's rules without an answer from the shim", "fix the shim's config first (see shim.config).");
        }
        String drv = "driver " + a.driverVersion();
        switch (g) {
            case C -> {
                // The table every report uses (ShimDriverConfig), fed with what the shim answered.
                List<Double> ccs = a.devices().stream().map(d -> cc(d.computeCapability())).filter(x -> x > 0).toList();
                ShimDriverConfig driver = new ShimDriverConfig(a.driverVersion() == null ? "" : a.driverVersion(),
                        "the shim's answer, config " + cfg, ccs);
                String fixLine = "set 'driver_version = " + ShimDriverConfig.BUNDLED_DEFAULT + "' (or the host's real driver version) in [shim] of " + cfg + ".";
                List<String> ev = new ArrayList<>(driver.generationCWarnings());
                ev.add("what NVML decides in generation C: " + g.nvmlDecides());
                return switch (driver.generationC()) {
                    case DROPS_ALL -> new Check("ollama.rules", Status.FAIL, drv + " is below " + ShimDriverConfig.GEN_C_MIN_DRIVER
                            + ": this Ollama drops every GPU as 'driver too old'", ev, fixLine);
                    case DROPS_OLD_CC -> new Check("ollama.rules", Status.WARN, drv + " is below " + ShimDriverConfig.GEN_C_MIN_DRIVER_OLD_CC
                            + " and a device has compute capability " + ccs.stream().min(Double::compare).orElseThrow()
                            + ": CUDA 12.8+ runtimes drop it", ev, fixLine);
                    case UNREADABLE -> new Check("ollama.rules", Status.WARN, drv + " is not a driver version: this Ollama cannot read its major"
                            + " and only logs a warning", ev, fixLine);
                    case KEEPS -> new Check("ollama.rules", Status.OK, drv + " >= " + ShimDriverConfig.GEN_C_MIN_DRIVER_OLD_CC
                            + ", the highest minimum generation C applies: it keeps every GPU", ev, null);
                    case KEEPS_CC7_AND_NEWER -> new Check("ollama.rules", Status.OK, drv + " >= " + ShimDriverConfig.GEN_C_MIN_DRIVER
                            + " and every device has compute capability 7 or newer: generation C keeps them", ev, null);
                };
            }
            case B -> {
                List<String> bad = a.devices().stream().filter(d -> d.uuid() == null || !d.uuid().startsWith("GPU-")).map(d -> "device " + d.index()).toList();
                if (!bad.isEmpty()) {
                    return Check.fail("ollama.rules", String.join(", ", bad) + " has no GPU-… UUID: this Ollama matches NVML's VRAM figures to CUDA devices by UUID",
                            "set 'uuid = GPU-…' to the UUID CUDA reports for that device (nvidia-smi -L on a working setup) in " + cfg + ".");
                }
                Check memory = noMemory(a, cfg, "this Ollama takes each GPU's VRAM from NVML");
                if (memory != null) return memory;
                return Check.ok("ollama.rules", "what NVML decides: " + g.nvmlDecides() + "; the shim's UUIDs must equal CUDA's: "
                        + String.join(", ", a.devices().stream().map(ShimAnswer.Device::uuid).toList()));
            }
            case A -> {
                List<String> old = a.devices().stream().filter(d -> d.computeCapability() != null && cc(d.computeCapability()) < 5.0)
                        .map(d -> "device " + d.index() + " cc " + d.computeCapability()).toList();
                if (!old.isEmpty()) {
                    return Check.fail("ollama.rules", String.join(", ", old) + ": this Ollama needs compute capability 5.0 or newer",
                            "set the device's real 'compute_capability' in " + cfg + " (a GPU older than 5.0 is not supported).");
                }
                Check memory = noMemory(a, cfg, "this Ollama takes each GPU's memory from NVML");
                if (memory != null) return memory;
                return Check.ok("ollama.rules", "what NVML decides: " + g.nvmlDecides() + "; " + drv);
            }
            case NONE -> {
                // install.version already fails for this; here only what it means for the shim.
                return Check.warn("ollama.rules", "what NVML decides: " + g.nvmlDecides() + ": the shim's answers never reach this Ollama",
                        "see install.version: use Ollama 0.12.6 or later with the shim.");
            }
            default -> {
                return Check.ok("ollama.rules", "generation unknown; the shim reports " + drv);
            }
        }
    }

    /** A device whose memory_total is 0 (shim-config's placeholder for a GPU not in its table), for a generation that reads it. */
    private static Check noMemory(ShimAnswer a, String cfg, String why) {
        List<ShimAnswer.Device> none = a.devices().stream().filter(d -> d.memoryTotal() == null || d.memoryTotal() == 0).toList();
        if (none.isEmpty()) return null;
        ShimAnswer.Device d = none.get(0);
        return Check.fail("ollama.rules", "device " + d.index() + " (" + d.name() + ") reports 0 bytes of memory: " + why
                        + " and finds no room for a model on it",
                "set 'memory_total' to the bytes of the GPU's (or vGPU profile's) frame buffer in [device." + d.index() + "] of " + cfg + ".");
    }

    private static double cc(String s) {
        try {
            return s == null ? 0 : Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    // --------------------------------------------------------------------------------- the service

    /**
     * Running processes against the install: one that runs a replaced (deleted) inode of a patched
     * file needs a restart; one that runs another ollama binary is not the patched one.
     * {@code runsCurrent} says, per pid, whether its executable is the same inode as the install's file.
     */
    static Check serviceProcess(List<Host.Process> procs, OllamaInstall install, Map<Long, Boolean> runsCurrent) {
        List<String> stale = new ArrayList<>();
        List<String> fine = new ArrayList<>();
        List<String> other = new ArrayList<>();
        String unit = null;
        for (Host.Process p : procs) {
            String exe = p.exePath();
            boolean ours = install.files().stream().anyMatch(f -> f.toString().equals(exe)
                    || (f + dev.ollamapatch.install.Targets.BACKUP_SUFFIX).equals(exe));
            String who = "pid " + p.pid() + (p.unit() != null ? " (" + p.unit() + ")" : "");
            if (ours) {
                if (p.exeDeleted() || !runsCurrent.getOrDefault(p.pid(), false)) {
                    stale.add(who + " runs " + p.exe());
                    if (unit == null) unit = p.unit();
                } else {
                    fine.add(who + " runs " + exe);
                }
            } else if ("ollama".equals(p.comm()) || exe.endsWith("/ollama")) {
                other.add(who + " runs " + exe);
            }
        }
        List<String> ev = new ArrayList<>(stale);
        ev.addAll(fine);
        ev.addAll(other);
        if (!stale.isEmpty()) {
            return new Check("service.process", Status.FAIL, stale.get(0) + ": it still runs the file as it was before patching", ev,
                    unit != null ? "restart it: 'systemctl restart " + unit + "'." : "restart that process so that it runs the patched file.");
        }
        if (!other.isEmpty()) {
            return new Check("service.process", Status.WARN, other.get(0) + ", not the install checked here (" + install.binary() + ")", ev,
                    "patch that binary too ('ollama-patch apply " + other.get(0).replaceFirst(".* runs ", "") + "') or point the service at the patched one.");
        }
        if (fine.isEmpty()) return Check.ok("service.process", "no running process of this install (nothing to restart)");
        return new Check("service.process", Status.OK, fine.get(0), ev, null);
    }

    /** A systemd unit's settings that matter: where it runs Ollama from, its environment. */
    record Unit(String name, List<Path> files, String execStart, Map<String, String> environment) {}

    static Check serviceUnit(Unit unit, OllamaInstall install, boolean execIsInstall, List<String> ldSoPreload, Map<String, String> processEnv) {
        List<String> ev = new ArrayList<>();
        if (unit != null) {
            ev.add("unit files: " + unit.files());
            if (unit.execStart() != null) ev.add("ExecStart=" + unit.execStart());
            unit.environment().forEach((k, v) -> ev.add("Environment " + k + "=" + v));
        }
        if (!ldSoPreload.isEmpty()) ev.add("/etc/ld.so.preload: " + String.join(" ", ldSoPreload));
        processEnv.forEach((k, v) -> ev.add("running process " + k + "=" + v));
        List<String> preloads = new ArrayList<>(ldSoPreload);
        if (unit != null && unit.environment().containsKey("LD_PRELOAD")) preloads.add(unit.environment().get("LD_PRELOAD"));
        if (processEnv.containsKey("LD_PRELOAD")) preloads.add(processEnv.get("LD_PRELOAD"));
        String hami = preloads.stream().filter(p -> p.contains("libvgpu.so")).findFirst().orElse(null);
        if (hami != null) {
            return new Check("service.unit", Status.FAIL, "HAMi's NVML interposer is preloaded (" + hami + "): it answers NVML calls before the shim can",
                    ev, "remove libvgpu.so from LD_PRELOAD (unit Environment= or /etc/ld.so.preload) for the ollama service, or do not use the shim with HAMi.");
        }
        if (!preloads.isEmpty()) {
            return new Check("service.unit", Status.WARN, "LD_PRELOAD is set for Ollama (" + String.join(" ", preloads) + "): a preloaded NVML would answer before the shim",
                    ev, "remove LD_PRELOAD from the ollama service unless you know the library does not export nvml* functions.");
        }
        if (unit == null) return Check.ok("service.unit", "no ollama.service unit; run Ollama with the environment you checked here");
        String exec = execProgram(unit.execStart());
        if (exec != null && install.binary() != null && !execIsInstall) {
            return new Check("service.unit", Status.WARN, unit.name() + " runs " + exec + ", not " + install.binary(), ev,
                    "patch " + exec + " too, or point ExecStart at " + install.binary() + ".");
        }
        String cfg = unit.environment().get("OLLAMA_PATCH_SHIM_CONFIG");
        return new Check("service.unit", Status.OK, unit.name() + ": no LD_PRELOAD" + (cfg != null ? ", shim config " + cfg : ", shim config default"), ev, null);
    }

    /** The program of an ExecStart= line, without systemd's prefixes ({@code -}, {@code @}, {@code +}, {@code !}, {@code :}). */
    static String execProgram(String execStart) {
        if (execStart == null || execStart.isBlank()) return null;
        return execStart.trim().replaceFirst("^[-@+!:]+", "").split("\\s+")[0];
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
