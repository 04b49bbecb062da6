package dev.ollamapatch.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two launchers (this checkout's {@code ollama-patch} and the release artifact's, written by
 * {@code dist/build.sh}) compile every method with C1 only except the loops over every byte of large
 * data, which they name by class. A name that no longer exists would silently put its loop back on C1
 * (gigabytes searched several times slower), and the two lists drifting apart would make the release
 * slower than what the benchmarks measured.
 */
class LauncherJitSettingsTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).resolve("..").normalize();
    private static final Pattern OWN_CLASS = Pattern.compile("(dev\\.ollamapatch\\.[A-Za-z0-9_.]+)::\\*");

    private static Set<String> ownC2Classes(Path launcher) throws IOException {
        Set<String> names = new TreeSet<>();
        Matcher m = OWN_CLASS.matcher(Files.readString(launcher));
        while (m.find()) names.add(m.group(1));
        return names;
    }

    @Test
    void bothLaunchersKeepTheSameOfTheToolsClassesOnC2AndEachExists() throws Exception {
        Set<String> checkout = ownC2Classes(ROOT.resolve("ollama-patch"));
        Set<String> release = ownC2Classes(ROOT.resolve("dist/build.sh"));
        assertFalse(checkout.isEmpty(), "no class of the tool is kept on C2 by ./ollama-patch");
        assertEquals(checkout, release, "./ollama-patch and dist/build.sh name different classes for C2");
        for (String name : checkout) {
            assertTrue(classExists(name), name + " is named for C2 by the launchers but does not exist");
        }
    }

    private static boolean classExists(String name) {
        try {
            Class.forName(name, false, LauncherJitSettingsTest.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
