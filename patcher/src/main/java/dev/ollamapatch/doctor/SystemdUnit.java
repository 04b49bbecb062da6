package dev.ollamapatch.doctor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the parts of a systemd service that decide how Ollama starts: ExecStart and the environment. */
final class SystemdUnit {
    private SystemdUnit() {}

    static Checks.Unit read(Host host, String name) {
        List<Path> files = host.unitFiles(name);
        if (files.isEmpty()) return null;
        String exec = null;
        Map<String, String> env = new LinkedHashMap<>();
        for (Path f : files) {
            boolean service = false;
            for (String raw : Host.lines(f)) {
                String line = raw.strip();
                if (line.startsWith("[")) {
                    service = line.equals("[Service]");
                    continue;
                }
                if (!service || line.startsWith("#") || line.startsWith(";")) continue;
                int eq = line.indexOf('=');
                if (eq < 0) continue;
                String key = line.substring(0, eq).strip();
                String value = line.substring(eq + 1).strip();
                switch (key) {
                    case "ExecStart" -> exec = value.isEmpty() ? null : value;  // an empty assignment resets
                    case "Environment" -> {
                        if (value.isEmpty()) env.clear();
                        for (String kv : words(value)) put(env, kv);
                    }
                    case "EnvironmentFile" -> {
                        String p = value.startsWith("-") ? value.substring(1) : value;
                        for (String l : Host.lines(host.path(p))) {
                            String t = l.strip();
                            if (t.isEmpty() || t.startsWith("#")) continue;
                            if (t.startsWith("export ")) t = t.substring(7).strip();
                            put(env, unquote(t));
                        }
                    }
                    default -> { }
                }
            }
        }
        return new Checks.Unit(name, files, exec, env);
    }

    private static void put(Map<String, String> env, String kv) {
        int eq = kv.indexOf('=');
        if (eq > 0) env.put(kv.substring(0, eq), unquote(kv.substring(eq + 1)));
    }

    private static String unquote(String s) {
        if (s.length() >= 2 && (s.charAt(0) == '"' || s.charAt(0) == '\'') && s.charAt(s.length() - 1) == s.charAt(0)) {
            return s.substring(1, s.length() - 1);
        }
        return s;
    }

    /** systemd's word splitting of {@code Environment=}: spaces separate, double or single quotes group. */
    static List<String> words(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        char quote = 0;
        boolean any = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
                else if (c == '\\' && i + 1 < s.length()) cur.append(s.charAt(++i));
                else cur.append(c);
            } else if (c == '"' || c == '\'') {
                quote = c;
                any = true;
            } else if (Character.isWhitespace(c)) {
                if (any || cur.length() > 0) out.add(cur.toString());
                cur.setLength(0);
                any = false;
            } else {
                cur.append(c);
            }
        }
        if (any || cur.length() > 0) out.add(cur.toString());
        return out;
    }
}
