package dev.ollamapatch.cli;

/** A command's refusal or failure with its exit status and the one line the user reads. */
final class CliFailure extends RuntimeException {
    final int exitCode;

    CliFailure(int exitCode, String message) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }
}
