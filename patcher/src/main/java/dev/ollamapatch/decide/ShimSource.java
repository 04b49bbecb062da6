package dev.ollamapatch.decide;

import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.shim.BundledShims;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** The shim to install: a file the user named, or the one bundled for the target's machine. */
public final class ShimSource {
    private final String name;
    private final byte[] bytes;

    private ShimSource(String name, byte[] bytes) {
        this.name = name;
        this.bytes = bytes;
    }

    public String name() { return name; }

    public byte[] bytes() { return bytes.clone(); }

    public static ShimSource choose(Path userShim, ElfFile target) throws IOException {
        if (userShim != null) {
            if (!Files.isRegularFile(userShim)) {
                throw new PatchException(PatchException.Kind.USAGE, "--shim " + userShim + ": no such file");
            }
            return new ShimSource(userShim.toString(), Files.readAllBytes(userShim));
        }
        String machine = ElfNames.machine(target.header().machine());
        Optional<InputStream> bundled = BundledShims.open(machine);
        if (bundled.isEmpty()) {
            throw new PatchException(PatchException.Kind.REFUSED, "no bundled shim for " + machine
                    + " (bundled: " + String.join(", ", BundledShims.machines()) + "); give one with --shim FILE");
        }
        try (InputStream in = bundled.get()) {
            return new ShimSource("bundled shim for " + machine, in.readAllBytes());
        }
    }

    /** Checks the shim against the target; refuses (exit 5) with the reasons when it cannot serve it. */
    public ShimCheck.Result checkAgainst(ElfFile target) {
        try (ElfFile shim = ElfFile.parse(ByteSource.of(bytes))) {
            return ShimCheck.check(target, shim, name);
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.REFUSED, name + " is not a valid ELF file: " + e.getMessage());
        }
    }

    /**
     * The shim for each file of one archive or image, chosen once per machine (or the user's one
     * file for all): its entries share it, and the bundled shim is read once.
     */
    public static final class PerMachine {
        private final Path userShim;
        private final java.util.Map<String, ShimSource> byMachine = new java.util.HashMap<>();

        /** {@code userShim}: {@code --shim}, or null for the bundled shim of each file's machine. */
        public PerMachine(Path userShim) {
            this.userShim = userShim;
        }

        public ShimSource choose(ElfFile elf) throws IOException {
            String key = userShim != null ? "user" : ElfNames.machine(elf.header().machine());
            ShimSource s = byMachine.get(key);
            if (s == null) {
                s = ShimSource.choose(userShim, elf);
                byMachine.put(key, s);
            }
            return s;
        }
    }
}
