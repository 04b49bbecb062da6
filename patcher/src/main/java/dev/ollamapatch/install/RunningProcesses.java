package dev.ollamapatch.install;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Which running processes execute a file, and which systemd units they belong to (from /proc). */
public final class RunningProcesses {
    private RunningProcesses() {}

    public record Running(long pid, String unit) {}

    public static List<Running> executing(Path file) {
        List<Running> out = new ArrayList<>();
        String real = file.toAbsolutePath().normalize().toString();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                try {
                    String exe = Files.readSymbolicLink(proc.resolve("exe")).toString();
                    if (exe.equals(real) || exe.equals(real + " (deleted)")) {
                        out.add(new Running(Long.parseLong(proc.getFileName().toString()), unitOf(proc)));
                    }
                } catch (IOException | UnsupportedOperationException | SecurityException e) {
                    // Not ours to read, or gone meanwhile.
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    /** The systemd service from {@code /proc/PID/cgroup} ("0::/system.slice/ollama.service"), or null. */
    static String unitOf(Path proc) {
        try {
            for (String line : Files.readAllLines(proc.resolve("cgroup"))) {
                for (String part : line.split("/")) {
                    if (part.endsWith(".service")) return part;
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    /** The advice to give after swapping files that running processes still execute. */
    public static List<String> restartAdvice(List<Path> files) {
        List<String> lines = new ArrayList<>();
        Set<String> units = new LinkedHashSet<>();
        for (Path f : files) {
            for (Running r : executing(f)) {
                if (r.unit() != null) units.add(r.unit());
                else lines.add("process " + r.pid() + " still runs the old " + f + "; restart it to use the shim");
            }
        }
        for (String u : units) lines.add("restart the service to use the shim: systemctl restart " + u);
        return lines;
    }
}
