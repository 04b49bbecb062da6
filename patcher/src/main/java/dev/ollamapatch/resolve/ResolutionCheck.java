package dev.ollamapatch.resolve;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.io.Sha256;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/**
 * {@code verify}'s check of resolutions on the installed files: every file a site resolves to exists, is
 * an ELF file of the patched file's machine and is the shim the manifest records; and the resolution,
 * worked out again now, still names those files ($ORIGIN still expanded, the same callers).
 */
public final class ResolutionCheck {
    private ResolutionCheck() {}

    /** One written site as the manifest records it. */
    public record WrittenSite(long offset, int length, boolean dynstr, String replacement, List<String> resolvesTo) {}

    /**
     * @param install   every ELF file of the install as it is now (callers count, patched or not)
     * @param sites     per installed file (absolute path), its written sites
     * @param shimShas  SHA-256 of each shim the manifest records, by path
     */
    public static List<String> problems(List<Path> install, Map<Path, List<WrittenSite>> sites,
                                        Map<String, String> shimShas) {
        List<String> problems = new ArrayList<>();
        List<Path> present = sites.keySet().stream().filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList();
        if (present.isEmpty()) return problems; // the hash checks already say which files are missing
        Set<Path> members = new LinkedHashSet<>();
        install.forEach(p -> members.add(p.toAbsolutePath().normalize()));
        members.addAll(present);
        try (InstallResolutions now = InstallResolutions.of(new ArrayList<>(members))) {
            for (Path file : present) {
                String machine;
                OptionalLong[] vaddrs;
                List<WrittenSite> ws = sites.get(file);
                try (ElfFile elf = ElfFile.open(file)) {
                    machine = ElfNames.machine(elf.header().machine());
                    vaddrs = ws.stream().map(s -> elf.vaddrOf(s.offset())).toArray(OptionalLong[]::new);
                }
                for (int i = 0; i < ws.size(); i++) {
                    WrittenSite s = ws.get(i);
                    if (s.resolvesTo() == null) continue; // written by a version that did not record resolutions
                    for (String shim : s.resolvesTo()) checkShim(file, s, Path.of(shim), machine, shimShas, problems);
                    if (!bare(s.replacement()).startsWith("$ORIGIN/") || vaddrs[i].isEmpty()) continue;
                    Resolution r = now.resolve(file, vaddrs[i].getAsLong(), s.length(), s.dynstr());
                    String name = s.replacement().substring(s.replacement().lastIndexOf('/') + 1);
                    if (!r.originWorks()) {
                        problems.add(String.format("%s: site at offset 0x%x names $ORIGIN, but now %s", file, s.offset(),
                                r.describe(name)));
                        continue;
                    }
                    Set<String> expected = new LinkedHashSet<>();
                    // $ORIGIN/sub/nvml.so names sub/nvml.so of each directory (ShimPlacement does the same).
                    String relative = bare(s.replacement()).substring("$ORIGIN/".length());
                    r.directories().forEach(d -> expected.add(d.resolve(relative).normalize().toString()));
                    if (!expected.equals(new LinkedHashSet<>(s.resolvesTo()))) {
                        problems.add(String.format("%s: site at offset 0x%x now resolves to %s; the manifest records %s (%s)",
                                file, s.offset(), expected, s.resolvesTo(), r.detail()));
                    }
                }
            }
        } catch (IOException | ElfFormatException e) {
            problems.add("the resolutions could not be checked: " + e.getMessage());
        }
        return problems;
    }

    private static void checkShim(Path file, WrittenSite s, Path shim, String machine, Map<String, String> shimShas,
                                  List<String> problems) {
        String where = String.format("%s: site at offset 0x%x resolves to %s", file, s.offset(), shim);
        if (!Files.isRegularFile(shim, LinkOption.NOFOLLOW_LINKS)) {
            problems.add(where + ", which is missing (or not a regular file)");
            return;
        }
        try (ElfFile elf = ElfFile.open(shim)) {
            String m = ElfNames.machine(elf.header().machine());
            if (!m.equals(machine)) problems.add(where + ", which is for " + m + ", not " + machine);
        } catch (ElfFormatException e) {
            problems.add(where + ", which is not an ELF file: " + e.getMessage());
            return;
        } catch (IOException e) {
            problems.add(where + ", which cannot be read: " + e.getMessage());
            return;
        }
        String recorded = shimShas.get(shim.toString());
        if (recorded == null) {
            problems.add(where + ", which the manifest does not record as an installed shim");
            return;
        }
        try {
            Sha256 sha = Sha256.of(shim);
            if (!sha.matches(recorded)) problems.add(where + ", whose SHA-256 is " + sha + ", not the manifest's " + recorded);
        } catch (IOException e) {
            problems.add(where + ", which cannot be read: " + e.getMessage());
        }
    }

    private static String bare(String s) {
        int i = 0;
        while (i < s.length() && s.charAt(i) == '/') i++;
        return s.substring(i);
    }
}
