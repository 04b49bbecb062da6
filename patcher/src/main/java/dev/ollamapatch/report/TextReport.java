package dev.ollamapatch.report;

import dev.ollamapatch.plan.Action;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.site.Printable;
import dev.ollamapatch.site.Site;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The report for people: what was found, where, why, and the bytes before and after. */
public final class TextReport {
    private TextReport() {}

    public static String render(List<FileReport> files, boolean dryRun) {
        StringBuilder out = new StringBuilder();
        int retargeted = 0, skipped = 0, refused = 0;
        for (FileReport f : files) {
            Plan plan = f.plan();
            out.append(f.path()).append('\n');
            out.append("  sha256   ").append(f.sha256()).append('\n');
            out.append("  machine  ").append(plan.scan().machine()).append(plan.scan().go() ? " (Go program)" : "")
                    .append(", code references searched: ").append(plan.scan().codeAnalysis()).append('\n');
            for (PlannedSite p : plan.sites()) {
                if (p.action() == Action.SKIP) continue;
                Site s = p.site();
                out.append('\n').append(p.action() == Action.RETARGET ? "  RETARGET " : "  REFUSED  ")
                        .append(s.kind().label()).append(" \"").append(s.original()).append("\" (")
                        .append(s.library().name()).append(")\n");
                out.append(String.format("    section %s, file offset 0x%x (%d), %s, %d bytes%n", s.section(),
                        s.offset(), s.offset(), s.vaddr() >= 0 ? String.format("vaddr 0x%x", s.vaddr()) : "not loaded",
                        s.length()));
                for (String e : s.evidence()) out.append("    extent: ").append(e).append('\n');
                if (p.reason() != null) out.append("    ").append(p.action() == Action.REFUSE ? "refused: " : "note: ")
                        .append(p.reason()).append('\n');
                out.append(String.format("    check:  xxd -s 0x%x -l %d FILE%n", s.offset(), s.length()));
                out.append("    before\n").append(HexDump.lines(s.offset(),
                        s.original().getBytes(StandardCharsets.ISO_8859_1), "      "));
                if (p.action() == Action.RETARGET) {
                    out.append("    after\n").append(HexDump.lines(s.offset(), p.replacement(), "      "));
                    retargeted++;
                } else {
                    refused++;
                }
            }
            List<PlannedSite> left = plan.skipped();
            if (!left.isEmpty()) {
                out.append("\n  left as they are:\n");
                for (PlannedSite p : left) {
                    Site s = p.site();
                    out.append(String.format("    0x%x  %-9s \"%s\"%n      %s%n", s.offset(), s.kind().label(),
                            Printable.of(s.original()), p.reason()));
                    skipped++;
                }
            }
            if (f.shim() != null) {
                out.append("\n  NVML functions the file looks up, and whether the shim exports them (")
                        .append(f.shim().shim()).append("):\n");
                f.shim().functions().forEach((name, has) ->
                        out.append(String.format("    %-40s %s%n", name, has ? "yes" : "MISSING")));
                for (String problem : f.shim().problems()) out.append("    problem: ").append(problem).append('\n');
            }
            if (f.output() != null) {
                out.append("\n  written  ").append(f.output()).append('\n');
                out.append("  sha256   ").append(f.patchedSha256()).append(" (patched, verified)\n");
            }
            out.append('\n');
        }
        out.append(String.format("summary: %d file%s, %d site%s %s, %d left as they are, %d refused%s%n",
                files.size(), files.size() == 1 ? "" : "s", retargeted, retargeted == 1 ? "" : "s",
                dryRun ? "to retarget" : "retargeted", skipped, refused, dryRun ? " (dry run: nothing written)" : ""));
        return out.toString();
    }
}
