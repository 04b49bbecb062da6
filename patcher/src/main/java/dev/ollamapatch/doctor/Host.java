package dev.ollamapatch.doctor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The machine the doctor looks at, read through a root directory ({@code --root}): sysfs, /dev,
 * /proc, /etc and the library directories. Every read is of a path under the root, so tests and
 * mounted images are read exactly like the live system. Nothing here decides anything; the checks
 * ({@link Checks}) do.
 */
public final class Host {
    private final Path root;

    private Host(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public static Host at(Path root) {
        return new Host(root);
    }

    public Path root() {
        return root;
    }

    public boolean isLiveSystem() {
        return root.getParent() == null;
    }

    /** The host's {@code absolute} path read under the root. */
    public Path path(String absolute) {
        String rel = absolute.startsWith("/") ? absolute.substring(1) : absolute;
        return rel.isEmpty() ? root : root.resolve(rel);
    }

    // ---------------------------------------------------------------------------------------- PCI

    /** Every PCI function in {@code /sys/bus/pci/devices}, sorted by address. */
    public List<PciFunction> pciFunctions() {
        List<PciFunction> out = new ArrayList<>();
        Path dir = path("/sys/bus/pci/devices");
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path d : ds) {
                int vendor = hexFile(d.resolve("vendor"));
                if (vendor < 0) continue;
                out.add(new PciFunction(d.getFileName().toString(), vendor, hexFile(d.resolve("device")),
                        hexFile(d.resolve("class")), hexFile(d.resolve("subsystem_vendor")),
                        hexFile(d.resolve("subsystem_device"))));
            }
        } catch (IOException e) {
            return out;
        }
        out.sort(Comparator.comparing(PciFunction::address));
        return out;
    }

    public List<PciFunction> nvidiaGpus() {
        return pciFunctions().stream().filter(PciFunction::isNvidiaGpu).toList();
    }

    private static int hexFile(Path p) {
        try {
            String s = Files.readString(p, StandardCharsets.ISO_8859_1).trim();
            if (s.startsWith("0x") || s.startsWith("0X")) s = s.substring(2);
            return (int) Long.parseLong(s, 16);
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    // ------------------------------------------------------------------------------ /dev, modules

    /** Names in /dev starting with {@code nvidia} ({@code nvidia0}, {@code nvidiactl}, {@code nvidia-uvm}, ...). */
    public Set<String> nvidiaDeviceNodes() {
        Set<String> out = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(path("/dev"), "nvidia*")) {
            for (Path p : ds) out.add(p.getFileName().toString());
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    /** Loaded kernel modules: {@code /proc/modules}, else the directories of {@code /sys/module}. */
    public Set<String> kernelModules() {
        Set<String> out = new TreeSet<>();
        for (String line : lines(path("/proc/modules"))) {
            int sp = line.indexOf(' ');
            if (sp > 0) out.add(line.substring(0, sp));
        }
        if (out.isEmpty()) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(path("/sys/module"))) {
                for (Path p : ds) out.add(p.getFileName().toString());
            } catch (IOException e) {
                return out;
            }
        }
        return out;
    }

    /** The {@code flags} of the first processor in {@code /proc/cpuinfo} (x86) or its {@code Features} (arm64). */
    public Optional<Set<String>> cpuFlags() {
        for (String line : lines(path("/proc/cpuinfo"))) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String key = line.substring(0, colon).trim();
            if (key.equals("flags") || key.equals("Features")) {
                return Optional.of(new TreeSet<>(List.of(line.substring(colon + 1).trim().split("\\s+"))));
            }
        }
        return Optional.empty();
    }

    // ------------------------------------------------------------------------------- libraries

    /** Default library directories of the loader for a machine (the ones glibc searches after the cache). */
    static List<String> defaultLibraryDirs(String machine) {
        String triple = "aarch64".equals(machine) ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        return List.of("/lib/" + triple, "/usr/lib/" + triple, "/lib64", "/usr/lib64", "/lib", "/usr/lib");
    }

    /**
     * Where the dynamic loader of this host finds {@code soname} for {@code machine}: the
     * {@code /etc/ld.so.cache} entry, else a default library directory. The result is the host's
     * path (as the loader sees it) and the evidence of how it was found.
     */
    public Optional<Found> findLibrary(String soname, String machine) {
        Path cache = path("/etc/ld.so.cache");
        try {
            for (LdSoCache.Entry e : LdSoCache.read(cache)) {
                if (e.key().equals(soname) && e.matches(machine) && Files.exists(path(e.value()))) {
                    return Optional.of(new Found(e.value(), "/etc/ld.so.cache lists " + soname + " => " + e.value()));
                }
            }
        } catch (IOException e) {
            // No cache, or one we cannot read: the default directories below still count.
        }
        for (String dir : defaultLibraryDirs(machine)) {
            String p = dir + "/" + soname;
            if (Files.exists(path(p))) return Optional.of(new Found(p, p + " exists (a default library directory)"));
        }
        return Optional.empty();
    }

    public record Found(String hostPath, String how) {}

    // ------------------------------------------------------------------------------- processes

    /** A process as /proc shows it. {@code exe} is the link's text ("… (deleted)" when replaced). */
    public record Process(long pid, String comm, String exe, Path exeLink, Map<String, String> environment, String unit) {
        public boolean exeDeleted() {
            return exe != null && exe.endsWith(" (deleted)");
        }

        public String exePath() {
            return exeDeleted() ? exe.substring(0, exe.length() - " (deleted)".length()) : exe;
        }
    }

    /** Every process under {@code /proc} whose executable link can be read. */
    public List<Process> processes() {
        List<Process> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(path("/proc"), "[0-9]*")) {
            for (Path p : ds) {
                long pid;
                try {
                    pid = Long.parseLong(p.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue;
                }
                String exe;
                try {
                    exe = Files.readSymbolicLink(p.resolve("exe")).toString();
                } catch (IOException | UnsupportedOperationException e) {
                    continue;  // a kernel thread, gone, or not ours to read
                }
                String comm = lines(p.resolve("comm")).stream().findFirst().orElse("");
                out.add(new Process(pid, comm, exe, p.resolve("exe"), environ(p.resolve("environ")), unitOf(p)));
            }
        } catch (IOException e) {
            return out;
        }
        out.sort(Comparator.comparingLong(Process::pid));
        return out;
    }

    private static Map<String, String> environ(Path p) {
        Map<String, String> env = new LinkedHashMap<>();
        try {
            for (String kv : new String(Files.readAllBytes(p), StandardCharsets.UTF_8).split("\0")) {
                int eq = kv.indexOf('=');
                if (eq > 0) env.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        } catch (IOException e) {
            return Map.of();
        }
        return env;
    }

    private static String unitOf(Path proc) {
        for (String line : lines(proc.resolve("cgroup"))) {
            for (String part : line.split("/")) {
                if (part.endsWith(".service")) return part;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------------------------- systemd

    /** The unit files of {@code name} (the unit, then its drop-ins in order), as the host's systemd reads them. */
    public List<Path> unitFiles(String name) {
        List<Path> files = new ArrayList<>();
        for (String dir : List.of("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")) {
            Path p = path(dir + "/" + name);
            if (Files.isRegularFile(p)) {
                files.add(p);
                break;
            }
        }
        // Drop-ins apply in file-name order; one of the same name in a later directory (/etc) replaces the earlier.
        java.util.TreeMap<String, Path> dropIns = new java.util.TreeMap<>();
        for (String dir : List.of("/usr/lib/systemd/system", "/lib/systemd/system", "/run/systemd/system", "/etc/systemd/system")) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(path(dir + "/" + name + ".d"), "*.conf")) {
                for (Path p : ds) dropIns.put(p.getFileName().toString(), p);
            } catch (IOException e) {
                // no drop-ins there
            }
        }
        files.addAll(dropIns.values());
        return files;
    }

    /** Lines of {@code /etc/ld.so.preload} that name a library. */
    public List<String> ldSoPreload() {
        List<String> out = new ArrayList<>();
        for (String line : lines(path("/etc/ld.so.preload"))) {
            for (String w : line.split("[\\s:]+")) if (!w.isBlank() && !w.startsWith("#")) out.add(w);
        }
        return out;
    }

    static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return List.of();
        }
    }
}
