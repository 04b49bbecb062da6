package dev.ollamapatch.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where the {@code ollama.service} unit and its drop-in live under a root directory, and which
 * binary its {@code ExecStart=} runs. Paths follow systemd.unit(5) "Unit File Load Path" for the
 * system manager: {@code /etc/systemd/system} first, then {@code /usr/local/lib}, {@code /usr/lib}
 * and {@code /lib}.
 */
public record OllamaUnit(Path root, String name, Optional<Path> unitFile) {
    public static final List<String> LOAD_PATH = List.of("etc/systemd/system", "usr/local/lib/systemd/system",
            "usr/lib/systemd/system", "lib/systemd/system");
    /** The load path as the user reads it, for messages. */
    public static final List<String> LOAD_PATH_TEXT = LOAD_PATH.stream().map(p -> "/" + p).toList();

    public static OllamaUnit find(Path root, String name) {
        for (String dir : LOAD_PATH) {
            Path f = root.resolve(dir).resolve(name);
            if (Files.isRegularFile(f)) return new OllamaUnit(root, name, Optional.of(f));
        }
        return new OllamaUnit(root, name, Optional.empty());
    }

    /** The drop-in's path: always under /etc, where an administrator's changes belong. */
    public Path dropIn() {
        return root.resolve("etc/systemd/system").resolve(name + ".d").resolve(SystemdDropIn.FILE_NAME);
    }

    /**
     * The install the unit starts, as the tool patches it: for {@code ExecStart=/usr/local/bin/ollama serve},
     * {@code /usr/local} when {@code /usr/local/lib/ollama} exists beside {@code bin} (the layout of
     * Ollama's release archives), else the binary itself. Paths are as the host sees them (without root).
     */
    public Optional<Path> target() throws IOException {
        if (unitFile.isEmpty()) return Optional.empty();
        for (String line : Files.readAllLines(unitFile.get())) {
            String l = line.strip();
            if (!l.startsWith("ExecStart=")) continue;
            String cmd = l.substring("ExecStart=".length()).replaceFirst("^[-@:+!]+", "").strip();
            if (cmd.isEmpty()) continue;
            String first = cmd.split("\\s+")[0].replace("\"", "");
            if (!first.startsWith("/")) return Optional.empty();
            Path binary = Path.of(first);
            Path bin = binary.getParent();
            if (bin != null && bin.getFileName() != null && bin.getFileName().toString().equals("bin")
                    && bin.getParent() != null
                    && Files.isDirectory(root.resolve(bin.getParent().resolve("lib/ollama").toString().substring(1)))) {
                return Optional.of(bin.getParent());
            }
            return Optional.of(binary);
        }
        return Optional.empty();
    }
}
