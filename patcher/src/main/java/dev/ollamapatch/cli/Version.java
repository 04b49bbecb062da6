package dev.ollamapatch.cli;

import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The tool's version, from the build (recorded in reports and manifests). */
public final class Version implements CommandLine.IVersionProvider {
    public static final String VERSION = load();

    private static String load() {
        try (InputStream in = Version.class.getResourceAsStream("/ollama-patch.properties")) {
            Properties p = new Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "dev");
        } catch (IOException e) {
            return "dev";
        }
    }

    public static String tool() { return "ollama-patch " + VERSION; }

    @Override
    public String[] getVersion() {
        return new String[] {tool(), "Java " + System.getProperty("java.version")};
    }
}
