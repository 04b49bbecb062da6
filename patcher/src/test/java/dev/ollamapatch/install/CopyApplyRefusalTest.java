package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code apply -o} where a file that is not the shim lies where the shim goes: refused before anything is written. */
class CopyApplyRefusalTest {
    @Test
    void aForeignFileWhereTheShimGoesIsRefusedInOneLineAndWithJsonAsAnErrorDocument(@TempDir Path dir) throws Exception {
        Path in = Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), dir.resolve("ollama"));
        Path out = Files.createDirectories(dir.resolve("copy")).resolve("ollama");
        Path foreign = Files.writeString(dir.resolve("copy/nvml.so"), "foreign");
        String line = foreign + " exists and is not the shim to install; move it elsewhere (or give it with --shim "
                + "if it is the one to use), then run apply again; nothing written";

        Cli.Result text = Cli.run("apply", in, "-o", out);
        assertEquals(5, text.exit(), text.toString());
        assertEquals("ollama-patch: " + line + "\n", text.err());
        assertEquals("", text.out());

        Cli.Result json = Cli.run("apply", in, "-o", out, "--json");
        assertEquals(5, json.exit(), json.toString());
        assertEquals("{\"error\":\"" + line + "\",\"exit_code\":5}\n", json.out());
        assertEquals(List.of(foreign), Files.list(dir.resolve("copy")).toList(), "nothing written beside it");
        assertEquals("foreign", Files.readString(foreign));
    }
}
