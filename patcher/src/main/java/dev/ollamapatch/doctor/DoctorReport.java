package dev.ollamapatch.doctor;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.report.Json;

import java.io.PrintWriter;
import java.util.List;

/** The doctor's answer as text (one line per check, the fix on the same line) or as one JSON document. */
public final class DoctorReport {
    private DoctorReport() {}

    public static void text(PrintWriter out, List<Check> checks) {
        int width = checks.stream().mapToInt(c -> c.id().length()).max().orElse(10);
        for (Check c : checks) {
            StringBuilder line = new StringBuilder();
            line.append(String.format("%-4s  %-" + width + "s  %s", c.status().word(), c.id(), printable(c.summary())));
            if (c.fix() != null) line.append(" -- fix: ").append(printable(c.fix()));
            out.println(line);
        }
        long fails = checks.stream().filter(c -> c.status() == Status.FAIL).count();
        long warns = checks.stream().filter(c -> c.status() == Status.WARN).count();
        out.println(fails == 0 ? "no check failed" + (warns > 0 ? " (" + warns + " warning" + (warns == 1 ? "" : "s") + ")" : "")
                : fails + " check" + (fails == 1 ? "" : "s") + " failed; fix the first one first");
    }

    public static ObjectNode json(List<Check> checks) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("ok", checks.stream().noneMatch(c -> c.status() == Status.FAIL));
        ArrayNode arr = root.putArray("checks");
        for (Check c : checks) {
            ObjectNode n = arr.addObject();
            n.put("id", c.id());
            n.put("status", c.status().word());
            n.put("summary", c.summary());
            ArrayNode ev = n.putArray("evidence");
            c.evidence().forEach(ev::add);
            if (c.fix() != null) n.put("fix", c.fix());
            else n.putNull("fix");
        }
        return root;
    }

    /** Control characters escaped, so that a file's contents cannot steer the terminal. */
    static String printable(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        return b.toString();
    }
}
