package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.GlibcVersion;
import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.install.InstallVerifier;
import dev.ollamapatch.ollama.Generation;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.Loader;
import dev.ollamapatch.resolve.Resolution;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Walks the chain from the Ollama install to the GPU and returns one {@link Check} per link: the
 * install, the shim (asked itself), the host, Ollama's rules for this version, the service, and with
 * {@code run} Ollama's own discovery. Reads facts, hands them to {@link Checks}.
 */
public final class Doctor {
    public static final String DEFAULT_CONFIG = "/etc/ollama-patch/shim.conf";
    static final String CONFIG_ENV = "OLLAMA_PATCH_SHIM_CONFIG";

    /** What to look at: the target (null: ollama on PATH), the root, --run, the environment of this run. */
    public record Options(Path target, Path root, boolean run, Map<String, String> env, int runTimeoutS) {}

    private Doctor() {}

    public static List<Check> examine(Options o) {
        Host host = Host.at(o.root());
        List<Check> checks = new ArrayList<>();

        // 1. The install.
        OllamaInstall install = null;
        String lookedAt;
        Path target = o.target();
        if (target == null) {
            target = onPath(host, o.env().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin"));
            lookedAt = target == null ? "no ollama on PATH under " + host.root() : "ollama on PATH: " + target;
        } else {
            lookedAt = target.toString();
        }
        String installError = null;
        if (target != null) {
            try {
                if (!Files.exists(target)) {
                    installError = "no such file or directory";
                } else if (dev.ollamapatch.image.ImageApply.isImage(target)
                        || (!Files.isDirectory(target) && dev.ollamapatch.archive.ArchiveFormat.isArchive(target))) {
                    // The doctor looks at an Ollama as it runs on this machine, not at a file that ships one.
                    installError = "a release archive or container image, not an installed Ollama (give the directory it is unpacked to)";
                } else if (!Files.isDirectory(target) && !dev.ollamapatch.install.Targets.isElf(target)) {
                    installError = "not an ELF file";
                } else {
                    install = OllamaInstall.read(target);
                    if (install.binary() == null) {
                        installError = "no bin/ollama (nor another program in bin/) in the directory";
                        install = null;
                    }
                }
            } catch (IOException | RuntimeException e) {
                installError = e instanceof java.nio.file.NoSuchFileException f ? f.getFile() + ": no such file or directory" : e.getMessage();
            }
        }
        checks.add(Checks.installFound(install, installError == null ? lookedAt : lookedAt + ": " + installError));
        String machine = install != null && install.machine() != null ? install.machine() : ShimQuery.hostMachine();
        Generation gen = install == null ? Generation.UNKNOWN : install.generation();
        Optional<GlibcVersion> hostGlibc = hostGlibc(host, machine);
        Path shimForQuery = null;
        if (install != null && install.binary() != null) {
            checks.add(Checks.installVersion(install));
            checks.add(Checks.installPatched(install));
            if (!install.patched().isEmpty()) {
                List<String> diffs = new ArrayList<>();
                for (Path m : install.manifests()) {
                    try {
                        String name = m.getFileName().toString();
                        Path layoutTarget = name.equals(".ollama-patch.json") ? m.getParent()
                                : m.resolveSibling(name.substring(0, name.length() - ".ollama-patch.json".length()));
                        diffs.addAll(InstallVerifier.verify(InstallLayout.of(layoutTarget)));
                    } catch (IOException | RuntimeException e) {
                        diffs.add(m + ": " + e.getMessage());
                    }
                }
                checks.add(Checks.installVerify(install.manifests(), diffs));
                for (Check c : siteChecks(host, install, hostGlibc)) {
                    checks.add(c);
                    if (shimForQuery == null && c.status() == Status.OK && machine.equals(ShimQuery.hostMachine())) {
                        shimForQuery = Path.of(c.evidence().get(0));
                    }
                }
            }
        }

        // 5 (read first: it decides which config the service's shim reads). The service.
        Checks.Unit unit = SystemdUnit.read(host, "ollama.service");
        List<Host.Process> procs = host.processes();
        Map<String, String> procEnv = new LinkedHashMap<>();
        Map<Long, Boolean> runsCurrent = new HashMap<>();
        if (install != null && install.binary() != null) {
            for (Host.Process p : procs) {
                boolean ours = install.files().stream().anyMatch(f -> f.toString().equals(p.exePath()));
                if (!ours) continue;
                try {
                    runsCurrent.put(p.pid(), !p.exeDeleted() && Files.isSameFile(p.exeLink(), install.files().stream()
                            .filter(f -> f.toString().equals(p.exePath())).findFirst().orElseThrow()));
                } catch (IOException e) {
                    runsCurrent.put(p.pid(), false);
                }
                for (String k : List.of("LD_PRELOAD", CONFIG_ENV)) {
                    if (p.environment().containsKey(k)) procEnv.put(k, p.environment().get(k));
                }
            }
        }
        // The config the service's shim reads: the one its environment names, else the shim's default.
        String named = unit != null && unit.environment().containsKey(CONFIG_ENV) ? unit.environment().get(CONFIG_ENV)
                : procEnv.containsKey(CONFIG_ENV) ? procEnv.get(CONFIG_ENV)
                : host.isLiveSystem() ? o.env().get(CONFIG_ENV) : null;
        if (named != null && named.isEmpty()) named = null;
        Path configFile = host.path(named != null ? named : DEFAULT_CONFIG);
        // Messages name the file as it is reached from here (under --root, the root's copy).
        String configHost = host.isLiveSystem() ? (named != null ? named : DEFAULT_CONFIG) : configFile.toString();
        boolean configExists = Files.exists(configFile);

        // 2. The shim, asked itself.
        ShimAnswer answer = null;
        Path queried = shimForQuery;
        if (queried == null) queried = bundledShim();
        if (queried != null) {
            try {
                answer = ShimQuery.ask(queried, named == null ? null : configFile.toString(), host);
            } catch (IOException e) {
                checks.add(Checks.failure("shim.config", "could not ask the shim " + queried + ": " + e.getMessage(),
                        "run '" + queried + "' through 'ollama-patch doctor --debug' and report the output."));
            }
        } else {
            checks.add(Checks.failure("shim.config", "no shim to ask (nothing patched and no bundled shim for " + ShimQuery.hostMachine() + ")",
                    "patch the install so that a shim is installed beside it."));
        }
        if (answer != null) {
            Check cfg = Checks.shimConfig(answer, configHost, configExists);
            checks.add(cfg.withEvidence(List.of("asked " + queried + (shimForQuery == null ? " (the bundled shim: no installed one to ask)" : ""),
                    "config file: " + configFile + (Files.exists(configFile) ? "" : " (missing)"))));
            if (answer.initialised()) checks.add(Checks.shimDevices(answer, configHost));
        }

        // 3. The host.
        List<PciFunction> gpus = host.nvidiaGpus();
        checks.add(Checks.hostPci(gpus, host.pciFunctions()));
        if (answer != null && answer.initialised() && !answer.devices().isEmpty() && !gpus.isEmpty()) {
            checks.add(Checks.pciMatch(answer, gpus, configHost));
        }
        checks.add(Checks.deviceNodes(host.nvidiaDeviceNodes(), host.kernelModules()));
        checks.add(Checks.libcuda(host.findLibrary("libcuda.so.1", machine), machine, gen));
        checks.add(Checks.cpuFlags(host.cpuFlags(), machine, gen));

        // 4. Ollama's rules for this version.
        if (answer != null && answer.initialised()) checks.add(Checks.ollamaRules(gen, answer, configHost));

        // 5. The service.
        if (install != null && install.binary() != null) {
            checks.add(Checks.serviceProcess(procs, install, runsCurrent));
            checks.add(Checks.serviceUnit(unit, install, unitRunsInstall(host, unit, install), host.ldSoPreload(), procEnv));
        }

        // 6. Ollama's own discovery.
        if (o.run()) {
            if (install == null || install.binary() == null) {
                checks.add(Checks.failure("run.discovery", "nothing to run: no Ollama install found", "give the install as TARGET."));
            } else if (!machine.equals(ShimQuery.hostMachine())) {
                checks.add(Checks.failure("run.discovery", install.binary() + " is " + machine + "; this machine is " + ShimQuery.hostMachine(),
                        "run the doctor with --run on a " + machine + " machine."));
            } else {
                try {
                    Map<String, String> env = new LinkedHashMap<>(o.env());
                    if (unit != null) env.putAll(unit.environment());
                    env.remove(CONFIG_ENV);
                    if (!host.isLiveSystem()) env.put(ShimQuery.ROOT_ENV, host.root().toString());
                    checks.add(DiscoveryRun.check(DiscoveryRun.run(install.binary(), gen, configFile, env, o.runTimeoutS())));
                } catch (IOException e) {
                    checks.add(Checks.failure("run.discovery", "could not run " + install.binary() + ": " + e.getMessage(),
                            "check that 'unshare' (util-linux) is installed and that you may create namespaces (run as root)."));
                }
            }
        }
        return checks;
    }

    /** Whether the unit's ExecStart names the install's binary (the same file, through links or the root). */
    static boolean unitRunsInstall(Host host, Checks.Unit unit, OllamaInstall install) {
        String exec = unit == null ? null : Checks.execProgram(unit.execStart());
        if (exec == null) return true;
        if (exec.equals(install.binary().toString())) return true;
        try {
            return Files.isSameFile(host.path(exec), install.binary());
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Per patched file and path, where the loader will look for the shim on this host and whether a
     * loadable one is there. A {@code $ORIGIN} path is resolved by the {@code resolve} package over every
     * ELF file of the install, as apply resolved it: the object whose code calls dlopen with the string
     * decides the directory (a tail call hands that to its callers), and musl or glibc's secure-execution
     * mode may not expand {@code $ORIGIN} at all. An absolute path is opened as it is (under the root).
     * Each check's first evidence line is the file the loader opens, when there is one.
     */
    static List<Check> siteChecks(Host host, OllamaInstall install, Optional<GlibcVersion> hostGlibc) {
        List<Check> out = new ArrayList<>();
        InstallResolutions resolutions = null;
        String unresolvable = null;
        try {
            resolutions = InstallResolutions.of(install.files());
        } catch (IOException | RuntimeException e) {
            unresolvable = "the install's files could not all be read to resolve $ORIGIN: " + e.getMessage();
        }
        try {
            for (OllamaInstall.PatchedFile pf : install.patched()) {
                Map<String, List<OllamaInstall.WrittenSite>> groups = new LinkedHashMap<>();
                Map<String, Resolution> resolved = new LinkedHashMap<>();
                try (ElfFile elf = ElfFile.open(pf.file())) {
                    boolean musl = Loader.of(elf) == Loader.MUSL;
                    for (OllamaInstall.WrittenSite s : pf.sites()) {
                        Resolution r = null;
                        if (s.path().startsWith("$ORIGIN")) {
                            OptionalLong vaddr = elf.vaddrOf(s.offset());
                            r = unresolvable != null ? Resolution.unknown(unresolvable)
                                    : vaddr.isEmpty() ? Resolution.unknown(String.format("file offset 0x%x is not loaded into memory", s.offset()))
                                    : resolutions.resolve(pf.file(), vaddr.getAsLong(), s.length(), s.dynstr());
                        }
                        // Sites that say the same path and lead the loader to the same files make one line.
                        String key = s.path() + "\0" + (r == null ? "absolute" : r.blocker() != null ? "blocked " + r.blocker()
                                : !r.originWorks() ? "unknown" : r.directories().toString());
                        groups.computeIfAbsent(key, k -> new ArrayList<>()).add(s);
                        resolved.putIfAbsent(key, r);
                    }
                    for (Map.Entry<String, List<OllamaInstall.WrittenSite>> g : groups.entrySet()) {
                        String sitePath = g.getValue().get(0).path();
                        Resolution r = resolved.get(g.getKey());
                        List<String> offsets = g.getValue().stream().map(s -> String.format("0x%x", s.offset())).toList();
                        if (r == null) {
                            Path file = host.path(sitePath);
                            out.add(Checks.site(pf, sitePath, offsets, file, "an absolute path: opened as it is", ShimFile.read(file, elf), hostGlibc));
                        } else if (r.blocker() != null) {
                            out.add(Checks.siteNotExpanded(pf, sitePath, offsets, r, musl || muslProgram(install)));
                        } else if (!r.originWorks()) {
                            out.add(Checks.siteUnknown(pf, sitePath, offsets, r));
                        } else {
                            String name = sitePath.substring(sitePath.lastIndexOf('/') + 1);
                            for (Path dir : r.directories()) {
                                Path file = dir.resolve(name);
                                out.add(Checks.site(pf, sitePath, offsets, file, r.how().label() + ": " + r.detail(), ShimFile.read(file, elf), hostGlibc));
                            }
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    out.add(Checks.failure("install.site", pf.file() + " could not be read: " + e.getMessage(),
                            "check that the file is readable, then run the doctor again."));
                }
            }
        } finally {
            if (resolutions != null) resolutions.close();
        }
        return out;
    }

    /** Whether the install's main binary is run by musl's loader (which expands $ORIGIN only in rpath). */
    private static boolean muslProgram(OllamaInstall install) {
        return install.identity() != null && "musl".equals(install.identity().libc().name());
    }

    static Optional<GlibcVersion> hostGlibc(Host host, String machine) {
        Optional<Host.Found> libc = host.findLibrary("libc.so.6", machine);
        if (libc.isEmpty()) return Optional.empty();
        try (ElfFile elf = ElfFile.open(host.path(libc.get().hostPath()))) {
            return Glibc.provided(elf);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Path onPath(Host host, String path) {
        for (String dir : path.split(":")) {
            if (dir.isEmpty()) continue;
            Path p = host.path(dir + "/ollama");
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** The bundled shim for this machine, copied to a temporary file (deleted on exit). */
    private static Path bundledShim() {
        try (var in = dev.ollamapatch.shim.BundledShims.open(ShimQuery.hostMachine()).orElse(null)) {
            if (in == null) return null;
            Path p = Files.createTempFile("ollama-patch-bundled", ".so");
            p.toFile().deleteOnExit();
            Files.copy(in, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return p;
        } catch (IOException e) {
            return null;
        }
    }

    /** 0 when no check failed, 1 otherwise. */
    public static int exitCode(List<Check> checks) {
        return checks.stream().anyMatch(c -> c.status() == Status.FAIL) ? 1 : 0;
    }
}
