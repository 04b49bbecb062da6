package dev.ollamapatch.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The release runs on a runtime linked with only the modules {@code dist/src/module-info.java} requires
 * (besides {@code java.base}); a class of the tool that uses another module compiles and passes every
 * test on a full JDK, and fails with NoClassDefFoundError in the release. Seen: image apply timing its
 * stages with {@code java.lang.management}. jdeps, the JDK's own dependency reader, lists what the tool's
 * classes use.
 */
class ReleaseRuntimeModulesTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).resolve("..").normalize();

    @Test
    void theToolsOwnClassesUseOnlyModulesTheReleaseRuntimeHolds() throws Exception {
        Set<String> runtime = new TreeSet<>(Set.of("java.base"));
        // Only plain requires are linked into the runtime; "requires static" ones stay out.
        Matcher m = Pattern.compile("(?m)^\\s*requires\\s+(?!static\\b)([\\w.]+)\\s*;")
                .matcher(Files.readString(ROOT.resolve("dist/src/module-info.java")));
        while (m.find()) runtime.add(m.group(1));

        Set<String> used = new TreeSet<>();
        for (Path classes : new Path[] {ROOT.resolve("patcher/target/classes"), ROOT.resolve("elf-model/target/classes")}) {
            assertTrue(Files.isDirectory(classes), classes + " is built before the tests");
            StringWriter out = new StringWriter();
            int rc = ToolProvider.findFirst("jdeps").orElseThrow().run(new PrintWriter(out), new PrintWriter(out),
                    "--multi-release", "17", "--ignore-missing-deps", "--print-module-deps", classes.toString());
            assertEquals(0, rc, "jdeps " + classes + ": " + out);
            used.addAll(Arrays.asList(out.toString().trim().split(",")));
        }
        used.removeAll(runtime);
        assertTrue(used.isEmpty(), "the tool's classes use modules the release runtime does not hold: " + used);
    }
}
