package dev.ollamapatch.cli;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code --lib NAME[=PATH]} and {@code --lib-file NAME=FILE}: libraries retargeted besides NVML. */
final class LibraryOptions {
    @Option(names = "--lib", paramLabel = "NAME[=PATH]",
            description = "also retarget this library; the default path fits NAME's own length "
                    + "(libcuda.so.1 -> $ORIGIN/cuda, libcuda.so -> $ORIGIN/cu, libcudart.so.12 -> $ORIGIN/cudart); "
                    + "repeatable")
    List<String> libs = new ArrayList<>();

    @Option(names = "--lib-file", paramLabel = "NAME=FILE",
            description = "the replacement library to install at NAME's path (checked like the shim: machine, "
                    + "class, SONAME, the functions the binary looks up); implies --lib NAME; repeatable")
    List<String> libFiles = new ArrayList<>();

    List<LibraryTarget> targets(String nvmlPath) {
        Map<String, Path> files = new LinkedHashMap<>();
        for (String spec : libFiles) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new PatchException(PatchException.Kind.USAGE, "--lib-file " + spec + ": expected NAME=FILE");
            }
            Path file = Path.of(spec.substring(eq + 1)).toAbsolutePath();
            if (!Files.isRegularFile(file)) {
                throw new PatchException(PatchException.Kind.USAGE, "--lib-file " + spec + ": " + file + ": no such file");
            }
            files.put(spec.substring(0, eq), file);
        }
        List<LibraryTarget> extra = new ArrayList<>();
        List<String> specs = new ArrayList<>(libs);
        for (String name : files.keySet()) {
            if (specs.stream().noneMatch(s -> s.equals(name) || s.startsWith(name + "="))) specs.add(name);
        }
        for (String spec : specs) {
            try {
                LibraryTarget t = LibraryTarget.parse(spec);
                if (files.containsKey(t.name())) {
                    if (t.name().equals(LibraryTarget.NVML.name())) {
                        throw new IllegalArgumentException("the NVML shim is given with --shim FILE");
                    }
                    t = t.withFile(files.get(t.name()));
                }
                extra.add(t);
            } catch (IllegalArgumentException e) {
                throw new PatchException(PatchException.Kind.USAGE, "--lib " + spec + ": " + e.getMessage());
            }
        }
        List<LibraryTarget> all = LibraryTarget.nvmlPlus(extra);
        if (nvmlPath != null) all.set(0, all.get(0).withPath(nvmlPath));
        Map<String, String> byPath = new HashMap<>();
        for (LibraryTarget t : all) {
            String other = byPath.putIfAbsent(t.defaultPath(), t.name());
            if (other != null) {
                throw new PatchException(PatchException.Kind.USAGE, "--lib " + t.name() + " and " + other
                        + " would both load " + t.defaultPath() + "; give one another path with --lib NAME=PATH");
            }
        }
        return all;
    }
}
