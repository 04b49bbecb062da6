package dev.ollamapatch.cli;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** {@code --lib NAME[=PATH]}: libraries retargeted besides NVML. */
final class LibraryOptions {
    @Option(names = "--lib", paramLabel = "NAME[=PATH]",
            description = "also retarget this library (e.g. libcuda.so.1=$ORIGIN/cuda.so); repeatable")
    List<String> libs = new ArrayList<>();

    List<LibraryTarget> targets(String nvmlPath) {
        List<LibraryTarget> extra = new ArrayList<>();
        for (String spec : libs) {
            try {
                extra.add(LibraryTarget.parse(spec));
            } catch (IllegalArgumentException e) {
                throw new PatchException(PatchException.Kind.USAGE, "--lib " + spec + ": " + e.getMessage());
            }
        }
        List<LibraryTarget> all = LibraryTarget.nvmlPlus(extra);
        if (nvmlPath != null) all.set(0, all.get(0).withPath(nvmlPath));
        return all;
    }
}
