package dev.ollamapatch.plan;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.ScanResult;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.site.Site;
import dev.ollamapatch.site.SiteFinder;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a scan into a plan by the replacement rule (DESIGN.md section 4). Pure: no I/O.
 */
public final class Planner {

    private Planner() {}

    /** Finds the sites of {@code elf} and plans them. */
    public static Plan plan(ElfFile elf, PlanOptions options) {
        return plan(SiteFinder.scan(elf, options.libraries()), options);
    }

    public static Plan plan(ScanResult scan, PlanOptions options) {
        List<PlannedSite> out = new ArrayList<>();
        for (Site site : scan.sites()) {
            out.add(planSite(site, options));
        }
        return new Plan(scan, out);
    }

    private static String howToChoose(LibraryTarget lib) {
        return lib.name().equals(LibraryTarget.NVML.name()) ? "--shim-path" : "--lib " + lib.name() + "=PATH";
    }

    private static PlannedSite planSite(Site site, PlanOptions options) {
        switch (site.role()) {
            case MENTION, UNPROVEN:
                return new PlannedSite(site, Action.SKIP, null, null, site.reason());
            case CONFLICT:
                return new PlannedSite(site, Action.REFUSE, null, null, site.reason());
            default:
                break;
        }
        LibraryTarget lib = options.libraries().stream()
                .filter(l -> l.name().equals(site.library().name())).findFirst().orElse(site.library());
        String path = lib.defaultPath();
        if (site.isGlob() && path.startsWith(LibraryTarget.ORIGIN)) {
            if (options.installDir() == null) {
                return new PlannedSite(site, Action.REFUSE, null, null,
                        "glob pattern, expanded by Go which does not know $ORIGIN: needs the absolute directory "
                                + "the file is installed in");
            }
            String dir = options.installDir().endsWith("/") ? options.installDir() : options.installDir() + "/";
            path = dir + path.substring(LibraryTarget.ORIGIN.length()).replaceFirst("^/+", "");
        }
        int pathLength = Replacement.length(path);
        if (pathLength > site.length()) {
            return new PlannedSite(site, Action.REFUSE, null, path, String.format(
                    "site at offset 0x%x is %d bytes but the path \"%s\" needs %d; the longest path that fits is "
                            + "%d bytes (choose one with %s)", site.offset(), site.length(), path,
                    pathLength, site.length(), howToChoose(lib)));
        }
        long lastSafe = site.offset() + site.length() - pathLength;
        for (long ref : site.innerRefs()) {
            if (ref > lastSafe) {
                return new PlannedSite(site, Action.REFUSE, null, path, String.format(
                        "a reference points at offset 0x%x, %d bytes into the string, inside the last %d bytes that "
                                + "the path \"%s\" occupies; it would read a broken path. The longest path that "
                                + "keeps it valid is %d bytes", ref, ref - site.offset(), pathLength, path,
                        site.offset() + site.length() - ref));
            }
        }
        return new PlannedSite(site, Action.RETARGET, Replacement.of(path, site.length()), path,
                site.isGlob() ? "glob pattern: absolute path of the installed shim" : null);
    }
}
